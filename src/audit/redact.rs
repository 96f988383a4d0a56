//! What an entry may hold: secrets replaced (known values, and values under secret-looking
//! keys), PII optionally, and every field capped so that a caller cannot grow the log by a
//! megabyte per call. A field over its cap is stored as its size and SHA-256, which still lets
//! a person check it against a copy.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Arguments, decision paths and retrieved context over this many bytes (as JSON) are stored
/// as size and digest.
pub const MAX_FIELD_BYTES: usize = 16 * 1024;
/// Names (tool, client, request id) longer than this are cut.
pub const MAX_NAME_CHARS: usize = 200;
/// Prompts and outcomes longer than this are cut, with the digest of the whole.
pub const MAX_TEXT_CHARS: usize = 8 * 1024;

/// Replaces secrets (known values, and values under secret-looking keys) and optionally PII.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
    pii: bool,
}

/// Shows how many secrets it hides, never the secrets.
impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field(
                "secrets",
                &format_args!("[{} redacted]", self.secrets.len()),
            )
            .field("pii", &self.pii)
            .finish()
    }
}

const SECRET_KEYS: &[&str] = &[
    "token",
    "secret",
    "password",
    "authorization",
    "apikey",
    "api_key",
    "hapikey",
    "refresh",
    "code_verifier",
];

impl Redactor {
    /// A redactor that also hides these exact values wherever they appear.
    pub fn new(secrets: Vec<String>, pii: bool) -> Self {
        Self {
            secrets: secrets.into_iter().filter(|s| s.len() >= 6).collect(),
            pii,
        }
    }

    /// Redacts a JSON value.
    pub fn value(&self, v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, x)| {
                        let lk = k.to_ascii_lowercase();
                        if SECRET_KEYS.iter().any(|s| lk.contains(s)) {
                            (self.text(k), Value::String("[redacted]".into()))
                        } else {
                            (self.text(k), self.value(x))
                        }
                    })
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.value(x)).collect()),
            Value::String(s) => Value::String(self.text(s)),
            other => other.clone(),
        }
    }

    /// Redacts a string.
    pub fn text(&self, s: &str) -> String {
        let mut out = s.to_string();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "[redacted]");
            }
        }
        if self.pii {
            out = out
                .split(' ')
                .map(|w| {
                    let digits = w.chars().filter(char::is_ascii_digit).count();
                    if w.contains('@') && w.contains('.') {
                        "[email]".to_string()
                    } else if digits >= 7 && digits * 2 >= w.len() {
                        "[phone]".to_string()
                    } else {
                        w.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ");
        }
        out
    }
}

fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A JSON field, or its size and digest when it is over [`MAX_FIELD_BYTES`].
pub fn cap_value(v: Value) -> Value {
    let bytes = serde_json::to_vec(&v).unwrap_or_default();
    if bytes.len() <= MAX_FIELD_BYTES {
        return v;
    }
    json!({"omitted": format!("over {MAX_FIELD_BYTES} bytes"), "bytes": bytes.len(), "sha256": digest(&bytes)})
}

/// A list field, capped as a whole.
pub fn cap_list(v: Vec<Value>) -> Vec<Value> {
    match cap_value(Value::Array(v)) {
        Value::Array(a) => a,
        summary => vec![summary],
    }
}

/// A text cut to `max` characters, with the length and digest of the whole when cut.
pub fn cap_text(s: String, max: usize) -> String {
    if s.chars().count() <= max {
        return s;
    }
    let kept: String = s.chars().take(max).collect();
    format!(
        "{kept}… [cut: {} characters, sha256 {}]",
        s.chars().count(),
        digest(s.as_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_fields_become_size_and_digest() {
        let big = json!({"notes": "x".repeat(900_000)});
        let capped = cap_value(big);
        assert_eq!(capped["bytes"], 900_012);
        assert_eq!(capped["sha256"].as_str().unwrap().len(), 64);
        assert_eq!(cap_value(json!({"a": 1})), json!({"a": 1}));
        let t = cap_text("é".repeat(10), 4);
        assert!(t.starts_with("éééé… [cut: 10 characters"), "{t}");
    }

    #[test]
    fn keys_are_redacted_too() {
        let r = Redactor::new(vec!["hunter2-value".into()], false);
        let v = r.value(&json!({"id-hunter2-value": 1}));
        assert_eq!(v, json!({"id-[redacted]": 1}));
    }
}
