//! What HubSpot refused, field by field.
//!
//! HubSpot reports invalid property values twice over: as `errors[]` entries (`code`,
//! `message`, `context.propertyName`) when it sends them, and always as JSON escaped into the
//! top-level message (`Property values were not valid: [{"isValid":false,"name":"email",
//! "error":"INVALID_EMAIL","message":"…"}]`). [`FieldErrors::read`] takes whichever is there
//! and gives back the plain headline and one [`FieldError`] per property, so neither a model
//! nor a person ever reads HubSpot's JSON inside a string.

use serde::Serialize;
use serde_json::Value;

/// One refused property value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct FieldError {
    /// The property, when HubSpot names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    /// HubSpot's code (`INVALID_EMAIL`, `INVALID_OPTION`, `PROPERTY_DOESNT_EXIST`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(p) = &self.property {
            write!(f, "{p}: ")?;
        }
        if let Some(c) = &self.code {
            write!(f, "{c}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// A headline and the property errors behind it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldErrors {
    /// HubSpot's message without the embedded JSON.
    pub headline: String,
    pub fields: Vec<FieldError>,
}

impl FieldErrors {
    /// Reads an error object's `message` and `errors[]` (either may be absent).
    pub fn read(message: &str, errors: &[Value]) -> Self {
        let (headline, embedded) = split_embedded(message);
        let mut fields: Vec<FieldError> = errors.iter().filter_map(from_detail).collect();
        if fields.is_empty() {
            fields = embedded;
        }
        Self {
            headline: headline.trim().trim_end_matches(':').trim().to_string(),
            fields,
        }
    }

    /// `headline (property: CODE: message; …)`, for text.
    pub fn render(&self) -> String {
        if self.fields.is_empty() {
            return self.headline.clone();
        }
        let list: Vec<String> = self.fields.iter().map(ToString::to_string).collect();
        format!("{} ({})", self.headline, list.join("; "))
    }
}

fn from_detail(e: &Value) -> Option<FieldError> {
    let message = e["message"].as_str()?.to_string();
    let property = e["context"]["propertyName"][0]
        .as_str()
        .or_else(|| e["context"]["propertyName"].as_str())
        .or_else(|| e["name"].as_str())
        .map(str::to_string);
    let code = e["code"]
        .as_str()
        .or_else(|| e["error"].as_str())
        .map(str::to_string);
    Some(FieldError {
        property,
        code,
        message,
    })
}

/// Splits `headline: [ {…}, … ]` into the headline and the entries, when the tail parses.
fn split_embedded(message: &str) -> (&str, Vec<FieldError>) {
    let Some(start) = message.find(": [") else {
        return (message, Vec::new());
    };
    let tail = &message[start + 2..];
    match serde_json::from_str::<Vec<Value>>(tail) {
        Ok(entries) => {
            let fields: Vec<FieldError> = entries.iter().filter_map(from_detail).collect();
            if fields.is_empty() {
                (message, Vec::new())
            } else {
                (&message[..start], fields)
            }
        }
        Err(_) => (message, Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn embedded_json_becomes_fields_and_a_plain_headline() {
        let m = r#"Property values were not valid: [{"isValid":false,"message":"Email address x is invalid","error":"INVALID_EMAIL","name":"email","localizedErrorMessage":"Email address x is invalid"}]"#;
        let e = FieldErrors::read(m, &[]);
        assert_eq!(e.headline, "Property values were not valid");
        assert_eq!(
            e.fields,
            vec![FieldError {
                property: Some("email".into()),
                code: Some("INVALID_EMAIL".into()),
                message: "Email address x is invalid".into()
            }]
        );
        assert!(!e.render().contains('{'), "{}", e.render());
    }

    #[test]
    fn errors_array_wins_and_plain_messages_stay() {
        let e = FieldErrors::read(
            "Property values were not valid",
            &[
                json!({"message": "no such property", "code": "PROPERTY_DOESNT_EXIST", "context": {"propertyName": ["x"]}}),
            ],
        );
        assert_eq!(e.fields[0].property.as_deref(), Some("x"));
        let plain = FieldErrors::read("Contact already exists: [not json", &[]);
        assert_eq!(plain.headline, "Contact already exists: [not json");
        assert!(plain.fields.is_empty());
    }
}
