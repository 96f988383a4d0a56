//! Normalization: HubSpot records, whatever a portal calls its properties, become one
//! canonical shape per object type; that shape becomes the text we embed.
//!
//! - A mapping file (TOML, schema `schemas/mapping.json`) maps canonical fields to a portal's
//!   properties, with a kind that says how to normalize the value. The built-in mapping
//!   (`default_mapping.toml`) covers HubSpot's standard properties and the sandbox's custom
//!   ones; `sync.mapping` replaces it.
//! - Values: emails are trimmed and lowercased (inner spaces removed), phones become E.164
//!   (numbers without a country code use `default_region`), dates become ISO 8601 UTC,
//!   enumeration values become their labels (from the portal's property definitions),
//!   booleans become `true`/`false`, domains lose their scheme, `www.` and path.
//! - The document is rendered from a per-type template over canonical fields: a line whose
//!   placeholders are all empty is dropped. Long documents are split into chunks on sentence
//!   boundaries, each carrying the record's title so that every chunk stands on its own.

use std::collections::{BTreeMap, HashMap};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::hubspot::model::CrmObject;

/// The built-in mapping.
pub const DEFAULT_MAPPING: &str = include_str!("default_mapping.toml");

/// Characters per chunk: about 200 tokens, inside MiniLM's 256-token window.
pub const CHUNK_CHARS: usize = 800;

/// How canonical fields come from a portal's properties.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// ISO 3166 region for phone numbers written without a country code (`US`, `DE`, ...).
    #[serde(default = "default_region")]
    pub default_region: String,
    /// Per object type (`contacts`, `companies`, `deals`, `tickets`, or a custom type name).
    pub objects: BTreeMap<String, ObjectMapping>,
}

fn default_region() -> String {
    "US".into()
}

/// One object type's canonical shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectMapping {
    /// The record's display title, a template over canonical fields (`{first_name} {last_name}`).
    pub title: String,
    /// The embedded document, a template over canonical fields, one line per fact.
    pub template: String,
    /// Canonical field name to property and kind. Reserved names fill filterable payload
    /// fields: `owner_id`, `pipeline`, `stage`; `email`, `phone` and `domain` feed the
    /// duplicate report.
    pub fields: BTreeMap<String, FieldSpec>,
    /// Associated object types whose ids are kept with the record (`companies`, `contacts`).
    #[serde(default)]
    pub associations: Vec<String>,
}

/// A canonical field's source: a property name (plain text), or a property with a kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum FieldSpec {
    Property(String),
    Typed {
        /// The portal's property (internal name). Several may be listed: the first with a value wins.
        #[serde(alias = "properties")]
        property: OneOrMany,
        #[serde(default)]
        kind: FieldKind,
    },
}

/// One property name or several (fallbacks in order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn names(&self) -> Vec<&str> {
        match self {
            Self::One(s) => vec![s.as_str()],
            Self::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// How a value is normalized.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    #[default]
    Text,
    Email,
    Phone,
    Domain,
    Date,
    Enum,
    Bool,
    Number,
}

impl FieldSpec {
    fn properties(&self) -> Vec<&str> {
        match self {
            Self::Property(p) => vec![p.as_str()],
            Self::Typed { property, .. } => property.names(),
        }
    }
    fn kind(&self) -> FieldKind {
        match self {
            Self::Property(_) => FieldKind::Text,
            Self::Typed { kind, .. } => *kind,
        }
    }
}

/// Why a mapping was refused.
#[derive(Debug, thiserror::Error)]
#[error("mapping {source_name}: {message}")]
pub struct MappingError {
    source_name: String,
    message: String,
}

impl Mapping {
    /// The built-in mapping.
    pub fn builtin() -> Self {
        Self::parse(DEFAULT_MAPPING, "built-in").unwrap_or_else(|e| unreachable!("{e}"))
    }

    /// Parses and checks a mapping (templates may only name declared fields).
    ///
    /// # Errors
    /// TOML errors with their location, unknown template fields, an unknown region.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, MappingError> {
        let err = |message: String| MappingError {
            source_name: source_name.to_string(),
            message,
        };
        let m: Mapping = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        if m.default_region
            .parse::<phonenumber::country::Id>()
            .is_err()
        {
            return Err(err(format!(
                "default_region {:?} is not an ISO 3166 region code (for example US, GB, DE)",
                m.default_region
            )));
        }
        for (ty, om) in &m.objects {
            for (what, t) in [("title", &om.title), ("template", &om.template)] {
                for name in placeholders(t) {
                    if !om.fields.contains_key(name) && !RECORD_FIELDS.contains(&name) {
                        return Err(err(format!(
                            "objects.{ty}.{what} uses {{{name}}}, which is not a field of objects.{ty}.fields"
                        )));
                    }
                }
            }
        }
        Ok(m)
    }

    /// Loads a mapping file, or the built-in one.
    ///
    /// # Errors
    /// As [`parse`](Self::parse), and an unreadable file.
    pub fn load(path: Option<&std::path::Path>) -> Result<Self, MappingError> {
        match path {
            None => Ok(Self::builtin()),
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| MappingError {
                    source_name: p.display().to_string(),
                    message: format!("cannot read: {e}"),
                })?;
                Self::parse(&text, &p.display().to_string())
            }
        }
    }

    /// The object types the mapping covers.
    pub fn object_types(&self) -> Vec<String> {
        self.objects.keys().cloned().collect()
    }

    /// Every property to request for a type.
    pub fn properties(&self, object_type: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .objects
            .get(object_type)
            .map(|om| {
                om.fields
                    .values()
                    .flat_map(|f| f.properties())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out.dedup();
        out
    }
}

/// Fields every record has, usable in templates without a mapping.
const RECORD_FIELDS: &[&str] = &["id", "object_type", "created_at", "updated_at"];

fn placeholders(t: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = t;
    while let Some(i) = rest.find('{') {
        let after = &rest[i + 1..];
        match after.find('}') {
            Some(j) => {
                out.push(&after[..j]);
                rest = &after[j + 1..];
            }
            None => break,
        }
    }
    out
}

/// Enumeration labels per property: `value -> label`.
pub type Labels = HashMap<String, HashMap<String, String>>;

/// Builds [`Labels`] from a properties listing (`{"results": [{"name", "options": [...]}]}`).
pub fn labels(props: &[crate::hubspot::model::PropertyDef]) -> Labels {
    let mut out = Labels::new();
    for p in props {
        let map: HashMap<String, String> = p
            .options
            .iter()
            .filter(|o| !o.value.is_empty() && !o.label.is_empty())
            .map(|o| (o.value.clone(), o.label.clone()))
            .collect();
        if !map.is_empty() {
            out.insert(p.name.clone(), map);
        }
    }
    out
}

/// A record in canonical form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Canonical {
    pub object_type: String,
    pub id: String,
    pub title: String,
    /// Canonical field to normalized value (strings, booleans, numbers).
    pub fields: BTreeMap<String, Value>,
    /// Associated type to ids.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub associations: BTreeMap<String, Vec<String>>,
    pub created_ms: Option<i64>,
    pub updated_ms: Option<i64>,
}

impl Canonical {
    /// `contacts/123`.
    pub fn reference(&self) -> String {
        format!("{}/{}", self.object_type, self.id)
    }

    fn text(&self, name: &str) -> Option<String> {
        match name {
            "id" => return Some(self.id.clone()),
            "object_type" => return Some(self.object_type.clone()),
            "created_at" => return self.created_ms.and_then(iso_from_ms),
            "updated_at" => return self.updated_ms.and_then(iso_from_ms),
            _ => {}
        }
        match self.fields.get(name)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Bool(b) => Some(if *b { "yes" } else { "no" }.to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// A field as a string, when set.
    pub fn field(&self, name: &str) -> Option<String> {
        self.text(name)
    }

    /// Renders a template: placeholders are replaced; a line whose placeholders are all empty
    /// is dropped (so "Phone: {phone}" disappears when there is no phone).
    pub fn render(&self, template: &str) -> String {
        let mut lines = Vec::new();
        for line in template.lines() {
            let names = placeholders(line);
            let mut out = line.to_string();
            let mut any = names.is_empty();
            for n in &names {
                let v = self.text(n).unwrap_or_default();
                any |= !v.is_empty();
                out = out.replace(&format!("{{{n}}}"), &v);
            }
            let out = out.split_whitespace().collect::<Vec<_>>().join(" ");
            if any && !out.is_empty() {
                lines.push(out);
            }
        }
        lines.join("\n")
    }

    /// The document's chunks: the whole document when short, otherwise sentence-aligned pieces
    /// of at most [`CHUNK_CHARS`], each prefixed with the title.
    pub fn chunks(&self, mapping: &ObjectMapping) -> Vec<String> {
        let doc = self.render(&mapping.template);
        if doc.chars().count() <= CHUNK_CHARS {
            return vec![doc];
        }
        let mut out = Vec::new();
        let mut cur = String::new();
        for sentence in split_sentences(&doc) {
            if !cur.is_empty() && cur.len() + sentence.len() + 1 > CHUNK_CHARS {
                out.push(std::mem::take(&mut cur));
            }
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(sentence);
        }
        if !cur.is_empty() {
            out.push(cur);
        }
        out.into_iter()
            .enumerate()
            .map(|(i, c)| {
                if i == 0 {
                    c
                } else {
                    format!("{} (continued): {c}", self.title)
                }
            })
            .collect()
    }

    /// A digest of everything that reaches the index: equal digests mean nothing to write.
    pub fn digest(&self, mapping: &ObjectMapping) -> String {
        let mut h = Sha256::new();
        h.update(serde_json::to_vec(self).unwrap_or_default());
        h.update(mapping.template.as_bytes());
        hex::encode(&h.finalize()[..16])
    }
}

fn split_sentences(doc: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = doc.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        let end = matches!(b, b'.' | b'!' | b'?' | b'\n')
            && bytes.get(i + 1).is_none_or(|n| n.is_ascii_whitespace());
        if end {
            let s = doc[start..=i].trim();
            if !s.is_empty() {
                out.push(s);
            }
            start = i + 1;
        }
    }
    let s = doc[start..].trim();
    if !s.is_empty() {
        out.push(s);
    }
    // A "sentence" longer than a chunk is cut on a character boundary.
    out.into_iter()
        .flat_map(|s| {
            let mut parts = Vec::new();
            let mut rest = s;
            while rest.len() > CHUNK_CHARS {
                let mut cut = CHUNK_CHARS;
                while !rest.is_char_boundary(cut) {
                    cut -= 1;
                }
                parts.push(&rest[..cut]);
                rest = &rest[cut..];
            }
            parts.push(rest);
            parts
        })
        .collect()
}

/// Normalizes one HubSpot record. `None` when the mapping does not cover its type.
pub fn normalize(
    mapping: &Mapping,
    object_type: &str,
    record: &CrmObject,
    labels: &Labels,
    associations: BTreeMap<String, Vec<String>>,
) -> Option<Canonical> {
    let om = mapping.objects.get(object_type)?;
    let mut fields = BTreeMap::new();
    for (name, spec) in &om.fields {
        let raw = spec.properties().into_iter().find_map(|p| {
            record
                .prop(p)
                .filter(|v| !v.trim().is_empty())
                .map(|v| (p, v))
        });
        let Some((prop, raw)) = raw else { continue };
        if let Some(v) =
            normalize_value(spec.kind(), raw, labels.get(prop), &mapping.default_region)
        {
            fields.insert(name.clone(), v);
        }
    }
    let mut c = Canonical {
        object_type: object_type.to_string(),
        id: record.id.clone(),
        title: String::new(),
        fields,
        associations,
        created_ms: record.created_at.as_deref().and_then(parse_date_ms),
        updated_ms: record.updated_at.as_deref().and_then(parse_date_ms),
    };
    let title = c.render(&om.title);
    c.title = if title.trim().is_empty() {
        format!("{} {}", singular(object_type), record.id)
    } else {
        title.replace('\n', " ")
    };
    Some(c)
}

fn singular(t: &str) -> &str {
    t.strip_suffix("ies")
        .map(|_| "company")
        .unwrap_or_else(|| t.strip_suffix('s').unwrap_or(t))
}

/// Normalizes one value by kind; `None` drops a value that is empty after normalization.
pub fn normalize_value(
    kind: FieldKind,
    raw: &str,
    labels: Option<&HashMap<String, String>>,
    region: &str,
) -> Option<Value> {
    let t = raw.trim();
    if t.is_empty() {
        return None;
    }
    Some(match kind {
        FieldKind::Text => Value::String(t.to_string()),
        FieldKind::Email => Value::String(normalize_email(t)?),
        FieldKind::Phone => Value::String(normalize_phone(t, region).unwrap_or_else(|| t.into())),
        FieldKind::Domain => Value::String(normalize_domain(t)?),
        FieldKind::Date => Value::String(normalize_date(t).unwrap_or_else(|| t.into())),
        FieldKind::Enum => {
            // Multi-select values are `;`-separated.
            let parts: Vec<String> = t
                .split(';')
                .filter(|p| !p.trim().is_empty())
                .map(|p| {
                    let p = p.trim();
                    labels
                        .and_then(|l| l.get(p))
                        .cloned()
                        .unwrap_or_else(|| p.to_string())
                })
                .collect();
            Value::String(parts.join("; "))
        }
        FieldKind::Bool => Value::Bool(normalize_bool(t)?),
        FieldKind::Number => t
            .replace([',', '_'], "")
            .parse::<f64>()
            .ok()
            .and_then(|n| {
                if n.fract() == 0.0 && n.abs() < 9e15 {
                    Some(Value::from(n as i64))
                } else {
                    serde_json::Number::from_f64(n).map(Value::Number)
                }
            })
            .unwrap_or_else(|| Value::String(t.to_string())),
    })
}

/// `  Jane.Doe@Example.COM ` → `jane.doe@example.com`; `None` when it is not an address.
pub fn normalize_email(raw: &str) -> Option<String> {
    let e: String = raw
        .trim()
        .trim_start_matches("mailto:")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase();
    let (local, domain) = e.split_once('@')?;
    (!local.is_empty() && domain.contains('.') && !domain.starts_with('.')).then_some(e)
}

/// `HTTPS://www.Acme.com/about` → `acme.com`; an email gives its domain.
pub fn normalize_domain(raw: &str) -> Option<String> {
    let t = raw.trim().to_lowercase();
    let t = t.rsplit_once('@').map_or(t.as_str(), |(_, d)| d);
    let t = t
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_start_matches("www.");
    let host = t.split(['/', '?', '#', ':']).next()?.trim_end_matches('.');
    (host.contains('.') && !host.contains(' ')).then(|| host.to_string())
}

/// Any reasonable phone spelling to E.164, using `region` when there is no country code.
pub fn normalize_phone(raw: &str, region: &str) -> Option<String> {
    let region = region.parse::<phonenumber::country::Id>().ok();
    let t = raw.trim();
    let t = t
        .strip_prefix("00")
        .map(|r| format!("+{r}"))
        .unwrap_or_else(|| t.to_string());
    let n = phonenumber::parse(region, &t).ok()?;
    phonenumber::is_valid(&n).then(|| n.format().mode(phonenumber::Mode::E164).to_string())
}

/// `true`/`yes`/`1`/`on`/`checked` and their opposites.
pub fn normalize_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" | "on" | "checked" => Some(true),
        "false" | "no" | "n" | "0" | "off" | "unchecked" => Some(false),
        _ => None,
    }
}

/// Epoch milliseconds, RFC 3339, `YYYY-MM-DD` (midnight UTC) or `MM/DD/YYYY` → RFC 3339 UTC.
pub fn normalize_date(raw: &str) -> Option<String> {
    parse_date_ms(raw).and_then(iso_from_ms)
}

/// A date in any of [`normalize_date`]'s spellings, as epoch milliseconds.
pub fn parse_date_ms(raw: &str) -> Option<i64> {
    let t = raw.trim();
    if let Ok(ms) = t.parse::<i64>() {
        // Seconds or milliseconds since the epoch.
        return Some(if ms.abs() < 100_000_000_000 {
            ms * 1000
        } else {
            ms
        });
    }
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(t) {
        return Some(d.timestamp_millis());
    }
    for f in ["%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y"] {
        if let Ok(d) = chrono::NaiveDate::parse_from_str(t, f) {
            return d
                .and_hms_opt(0, 0, 0)
                .map(|dt| dt.and_utc().timestamp_millis());
        }
    }
    chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|dt| dt.and_utc().timestamp_millis())
}

fn iso_from_ms(ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_phones_dates_booleans_and_domains_normalize() {
        assert_eq!(
            normalize_email("  Jane.Doe@Example.COM ").as_deref(),
            Some("jane.doe@example.com")
        );
        assert_eq!(
            normalize_email("jane doe@example.com").as_deref(),
            Some("janedoe@example.com")
        );
        assert_eq!(normalize_email("not-an-email"), None);
        assert_eq!(
            normalize_phone("(617) 555-0134", "US").as_deref(),
            Some("+16175550134")
        );
        assert_eq!(
            normalize_phone("+44 20 7946 0958", "US").as_deref(),
            Some("+442079460958")
        );
        assert_eq!(
            normalize_phone("0044 20 7946 0958", "US").as_deref(),
            Some("+442079460958")
        );
        assert_eq!(
            normalize_phone("030 901820", "DE").as_deref(),
            Some("+4930901820")
        );
        assert_eq!(normalize_phone("12", "US"), None);
        assert_eq!(
            normalize_date("2026-05-01").as_deref(),
            Some("2026-05-01T00:00:00Z")
        );
        assert_eq!(
            normalize_date("1780272000000").as_deref(),
            Some("2026-06-01T00:00:00Z")
        );
        assert_eq!(
            normalize_date("2026-06-01T02:00:00+02:00").as_deref(),
            Some("2026-06-01T00:00:00Z")
        );
        assert_eq!(
            normalize_date("06/01/2026").as_deref(),
            Some("2026-06-01T00:00:00Z")
        );
        assert_eq!(normalize_bool("Yes"), Some(true));
        assert_eq!(normalize_bool("false"), Some(false));
        assert_eq!(normalize_bool("maybe"), None);
        assert_eq!(
            normalize_domain("HTTPS://www.Acme.com/about").as_deref(),
            Some("acme.com")
        );
        assert_eq!(
            normalize_domain("sales@acme.io").as_deref(),
            Some("acme.io")
        );
    }

    #[test]
    fn enum_values_become_labels_and_multi_selects_keep_every_value() {
        let labels: HashMap<String, String> = [
            ("HIGH".to_string(), "High".to_string()),
            ("LOW".into(), "Low".into()),
        ]
        .into();
        assert_eq!(
            normalize_value(FieldKind::Enum, "HIGH", Some(&labels), "US"),
            Some(Value::String("High".into()))
        );
        assert_eq!(
            normalize_value(FieldKind::Enum, "HIGH;LOW;X", Some(&labels), "US"),
            Some(Value::String("High; Low; X".into()))
        );
        assert_eq!(
            normalize_value(FieldKind::Number, "1,200", None, "US"),
            Some(Value::from(1200))
        );
    }

    #[test]
    fn the_builtin_mapping_parses_and_templates_only_name_declared_fields() {
        let m = Mapping::builtin();
        for t in ["contacts", "companies", "deals", "tickets"] {
            assert!(m.objects.contains_key(t), "{t}");
            assert!(!m.properties(t).is_empty());
        }
        let bad = r#"
[objects.contacts]
title = "{nope}"
template = ""
fields = { email = "email" }
"#;
        let e = Mapping::parse(bad, "t.toml").unwrap_err().to_string();
        assert!(e.contains("{nope}") && e.contains("t.toml"), "{e}");
        let e = Mapping::parse("default_region = \"XX\"\n[objects]\n", "t.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("XX"), "{e}");
    }

    #[test]
    fn a_record_normalizes_renders_and_drops_empty_lines() {
        let m = Mapping::builtin();
        let mut props = BTreeMap::new();
        props.insert("firstname".to_string(), Some("Ana".to_string()));
        props.insert("lastname".to_string(), Some("Silva".to_string()));
        props.insert("email".to_string(), Some(" ANA@Acme.COM".to_string()));
        props.insert("vip".to_string(), Some("true".to_string()));
        let rec = CrmObject {
            id: "7".into(),
            properties: props,
            created_at: Some("2026-01-02T03:04:05Z".into()),
            updated_at: Some("1780272000000".into()),
            archived: false,
            object_write_trace_id: None,
            properties_with_history: Default::default(),
            new: None,
        };
        let c = normalize(&m, "contacts", &rec, &Labels::new(), BTreeMap::new()).unwrap();
        assert_eq!(c.title, "Ana Silva");
        assert_eq!(c.field("email").as_deref(), Some("ana@acme.com"));
        assert_eq!(c.fields.get("vip"), Some(&Value::Bool(true)));
        assert_eq!(c.updated_ms, Some(1_780_272_000_000));
        let doc = c.chunks(&m.objects["contacts"]).join("\n");
        assert!(doc.contains("ana@acme.com"), "{doc}");
        assert!(!doc.contains("{"), "{doc}");
        assert!(
            !doc.to_lowercase().contains("phone"),
            "an empty phone line is dropped: {doc}"
        );
    }

    #[test]
    fn long_text_is_chunked_on_sentences_with_the_title_carried() {
        let m = Mapping::builtin();
        let body = (0..60)
            .map(|i| format!("Sentence number {i} describes the outage in some detail."))
            .collect::<Vec<_>>()
            .join(" ");
        let mut props = BTreeMap::new();
        props.insert("subject".to_string(), Some("Outage".to_string()));
        props.insert("content".to_string(), Some(body));
        let rec = CrmObject {
            id: "9".into(),
            properties: props,
            created_at: None,
            updated_at: None,
            archived: false,
            object_write_trace_id: None,
            properties_with_history: Default::default(),
            new: None,
        };
        let c = normalize(&m, "tickets", &rec, &Labels::new(), BTreeMap::new()).unwrap();
        let chunks = c.chunks(&m.objects["tickets"]);
        assert!(chunks.len() >= 4, "{}", chunks.len());
        for ch in &chunks {
            assert!(ch.len() <= CHUNK_CHARS + 40, "{}", ch.len());
            assert!(ch.contains("Outage"), "{ch}");
        }
        assert!(
            chunks[1].ends_with('.'),
            "chunks end on sentence boundaries"
        );
    }
}
