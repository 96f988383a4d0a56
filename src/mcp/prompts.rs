//! MCP prompts, from `prompts/*.md`: TOML front matter (`+++`) gives the name, description and
//! arguments; the body is the template, with `{{argument}}` placeholders. The files are
//! embedded at build time, so the binary serves them with no file system access.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The prompt files, embedded.
const FILES: &[(&str, &str)] = &[
    (
        "triage_ticket.md",
        include_str!("../../prompts/triage_ticket.md"),
    ),
    (
        "account_brief.md",
        include_str!("../../prompts/account_brief.md"),
    ),
];

/// One declared argument.
#[derive(Debug, Clone, Deserialize)]
pub struct PromptArg {
    pub name: String,
    pub description: String,
    #[serde(default)]
    pub required: bool,
}

/// One prompt.
#[derive(Debug, Clone, Deserialize)]
pub struct PromptTemplate {
    pub name: String,
    pub description: String,
    #[serde(default)]
    pub arguments: Vec<PromptArg>,
    #[serde(skip)]
    pub body: String,
}

/// Why a prompt could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptError {
    #[error("unknown prompt \"{0}\"; the prompts are: {1}")]
    Unknown(String, String),
    #[error("prompt \"{0}\" needs the argument \"{1}\"")]
    Missing(String, String),
    #[error("prompt \"{0}\" has no argument \"{1}\"; its arguments are: {2}")]
    Unexpected(String, String, String),
}

/// Parses one file.
///
/// # Errors
/// When the front matter is missing or not valid TOML.
pub fn parse(file: &str, text: &str) -> Result<PromptTemplate, String> {
    let rest = text
        .strip_prefix("+++\n")
        .ok_or_else(|| format!("{file}: front matter must start with +++"))?;
    let (front, body) = rest
        .split_once("\n+++\n")
        .ok_or_else(|| format!("{file}: front matter must end with +++"))?;
    let mut t: PromptTemplate = toml::from_str(front).map_err(|e| format!("{file}: {e}"))?;
    t.body = body.trim().to_string();
    Ok(t)
}

/// Every prompt.
#[derive(Debug, Clone)]
pub struct PromptLibrary {
    prompts: Vec<PromptTemplate>,
}

impl PromptLibrary {
    /// The embedded prompts.
    ///
    /// # Panics
    /// Never at run time: the `embedded_prompts_parse` test proves every file parses.
    pub fn embedded() -> Self {
        let prompts = FILES
            .iter()
            .map(|(f, t)| parse(f, t).expect("embedded prompts parse"))
            .collect();
        Self { prompts }
    }

    /// All prompts.
    pub fn all(&self) -> &[PromptTemplate] {
        &self.prompts
    }

    /// Renders a prompt with its arguments.
    ///
    /// # Errors
    /// An unknown prompt, a missing required argument, or an undeclared argument.
    pub fn render(
        &self,
        name: &str,
        args: &BTreeMap<String, String>,
    ) -> Result<(String, String), PromptError> {
        let p = self
            .prompts
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| {
                PromptError::Unknown(
                    name.into(),
                    self.prompts
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                )
            })?;
        for k in args.keys() {
            if !p.arguments.iter().any(|a| &a.name == k) {
                return Err(PromptError::Unexpected(
                    name.into(),
                    k.clone(),
                    p.arguments
                        .iter()
                        .map(|a| a.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                ));
            }
        }
        let mut body = p.body.clone();
        for a in &p.arguments {
            let value = match args.get(&a.name) {
                Some(v) => v.clone(),
                None if a.required => {
                    return Err(PromptError::Missing(name.into(), a.name.clone()))
                }
                None if a.name == "confidence_floor" => "0.7".into(),
                None => String::new(),
            };
            body = body.replace(&format!("{{{{{}}}}}", a.name), &value);
        }
        Ok((p.description.clone(), body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_prompts_parse() {
        let lib = PromptLibrary::embedded();
        let names: Vec<&str> = lib.all().iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["triage_ticket", "account_brief"]);
    }

    #[test]
    fn renders_arguments_and_rejects_missing_ones() {
        let lib = PromptLibrary::embedded();
        let args = BTreeMap::from([("ticket_id".to_string(), "123".to_string())]);
        let (_, body) = lib.render("triage_ticket", &args).unwrap();
        assert!(
            body.contains("ticket 123") && body.contains("below 0.7"),
            "{body}"
        );
        assert!(!body.contains("{{"));
        assert_eq!(
            lib.render("triage_ticket", &BTreeMap::new()),
            Err(PromptError::Missing(
                "triage_ticket".into(),
                "ticket_id".into()
            ))
        );
        assert!(matches!(
            lib.render("nope", &BTreeMap::new()),
            Err(PromptError::Unknown(..))
        ));
    }
}
