//! Arguments checked against the portal's metadata before any HubSpot call: object types,
//! property names (with close matches), read-only properties, enumeration values, and batch
//! sizes.

use std::collections::{BTreeMap, HashMap};

use super::args::PropertyMap;
use super::error::ToolError;
use crate::hubspot::model::PropertyDef;
use crate::mcp::HubSpotMcp;
use crate::objects::STANDARD_OBJECTS;

fn invalid(msg: impl Into<String>) -> ToolError {
    ToolError::invalid(msg)
}

/// Close matches for a mistyped name.
pub fn close_matches<'a>(wanted: &str, candidates: impl Iterator<Item = &'a str>) -> Vec<String> {
    let w = wanted.to_lowercase();
    let mut scored: Vec<(f64, &str)> = candidates
        .map(|c| {
            let cl = c.to_lowercase();
            let mut score = strsim::jaro_winkler(&w, &cl);
            if cl.contains(&w) || w.contains(&cl) {
                score = score.max(0.9);
            }
            (score, c)
        })
        .filter(|(s, _)| *s >= 0.75)
        .collect();
    scored.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
    scored
        .into_iter()
        .take(5)
        .map(|(_, c)| c.to_string())
        .collect()
}

/// A type's property definitions, by name.
pub struct PropertyIndex {
    object_type: String,
    pub(crate) defs: HashMap<String, PropertyDef>,
}

impl PropertyIndex {
    /// Does the portal have this property?
    pub fn has(&self, name: &str) -> bool {
        self.defs.contains_key(name)
    }

    /// Validates a write (names, read-only, enumeration values) and returns each value as
    /// HubSpot will store it ([`hubspot_wire::values::read_value`]).
    ///
    /// # Errors
    /// `invalid_params` naming the property and the fix.
    pub fn check_writable_pub(
        &self,
        props: &PropertyMap,
    ) -> Result<BTreeMap<String, String>, ToolError> {
        self.check_writable(props)
    }

    pub(crate) fn check_name(&self, name: &str) -> Result<&PropertyDef, ToolError> {
        self.defs.get(name).ok_or_else(|| {
            let near = close_matches(name, self.defs.keys().map(String::as_str));
            let hint = if near.is_empty() {
                format!("call describe_properties for {}", self.object_type)
            } else {
                format!("did you mean {}?", near.join(", "))
            };
            invalid(format!(
                "property \"{name}\" does not exist on {}; {hint}",
                self.object_type
            ))
        })
    }

    pub(crate) fn check_value(&self, name: &str, value: &str) -> Result<(), ToolError> {
        let def = self.check_name(name)?;
        let options: Vec<(&str, &str)> = def
            .options
            .iter()
            .filter(|o| !o.value.is_empty())
            .map(|o| (o.value.as_str(), o.label.as_str()))
            .collect();
        if !def.is_enumeration() || value.is_empty() {
            return Ok(());
        }
        let parts: Vec<&str> = if def.multi_valued() {
            value.split(';').collect()
        } else {
            vec![value]
        };
        for p in parts {
            if options.iter().any(|(v, _)| *v == p) {
                continue;
            }
            if let Some((v, l)) = options
                .iter()
                .find(|(v, l)| v.eq_ignore_ascii_case(p) || l.eq_ignore_ascii_case(p))
            {
                return Err(invalid(format!("\"{p}\" is not a value of {name}; use the value \"{v}\" (label \"{l}\"). Enumeration values are case-sensitive.")));
            }
            let allowed: Vec<&str> = options.iter().map(|(v, _)| *v).take(30).collect();
            return Err(invalid(format!(
                "\"{p}\" is not a value of {name}; allowed values: {}",
                allowed.join(", ")
            )));
        }
        Ok(())
    }

    pub(crate) fn check_writable(
        &self,
        props: &PropertyMap,
    ) -> Result<BTreeMap<String, String>, ToolError> {
        let mut out = BTreeMap::new();
        for (k, v) in props {
            let def = self.check_name(k)?;
            if def.read_only() {
                return Err(invalid(format!(
                    "property \"{k}\" is read-only (HubSpot calculates it); leave it out"
                )));
            }
            // The value as HubSpot will store it (a padded or exponent number is the number
            // it stands for): what the gate judges and what is written are the same string.
            let text = hubspot_wire::values::read_value(&def.kind, &v.text()).map_err(|e| {
                invalid(format!(
                    "property \"{k}\": {e}{}",
                    e.suggestion
                        .as_deref()
                        .map(|s| format!("; did you mean \"{s}\"?"))
                        .unwrap_or_default()
                ))
            })?;
            self.check_value(k, &text)?;
            out.insert(k.clone(), text);
        }
        Ok(out)
    }
}

/// A date argument, read the same way by every tool: ISO 8601 (`2026-03-10`,
/// `2026-03-10T09:00:00Z`) or epoch milliseconds; anything else ("last week") is refused with
/// the fix rather than searched for and silently not found.
pub(crate) fn date_arg(what: &str, text: &str) -> Result<i64, ToolError> {
    // Epoch milliseconds of any date after March 1973 have 12 digits or more; a smaller
    // number is seconds, a year or a typo, and read as milliseconds it would mean 1970.
    if let Ok(n) = text.trim().parse::<i64>() {
        if n.abs() < 100_000_000_000 {
            return Err(invalid(format!(
                "{what}: {n} looks like seconds or a year, not epoch milliseconds; give milliseconds (e.g. {}) or ISO 8601 (2026-03-10)",
                n.saturating_mul(1000)
            )));
        }
    }
    hubspot_wire::time::parse_hs_datetime(text).ok_or_else(|| {
        invalid(format!(
            "{what}: {text:?} is not a date; use ISO 8601 (2026-03-10 or 2026-03-10T09:00:00Z) or epoch milliseconds"
        ))
    })
}

/// A batch of 1 to 100 inputs, or an error naming the argument.
pub(crate) fn limit_inputs<T>(items: &[T], what: &str) -> Result<(), ToolError> {
    if items.is_empty() {
        return Err(invalid(format!("{what} is empty: pass at least one")));
    }
    if items.len() > 100 {
        return Err(invalid(format!(
            "{what} has {} entries; at most 100 per call (split the work into several calls)",
            items.len()
        )));
    }
    Ok(())
}

impl HubSpotMcp {
    /// Resolves a user-supplied object type to the path name HubSpot accepts.
    pub(crate) async fn object_type(&self, name: &str) -> Result<String, ToolError> {
        let n = name.trim().to_lowercase();
        if let Some(o) = STANDARD_OBJECTS
            .iter()
            .find(|o| o.name == n || o.type_id == n || o.singular == n)
        {
            return Ok(o.name.to_string());
        }
        let customs: Vec<(String, String)> = self
            .client
            .schemas()
            .await?
            .into_iter()
            .map(|s| (s.name, s.object_type_id))
            .collect();
        if let Some((_, id)) = customs
            .iter()
            .find(|(nm, id)| nm.eq_ignore_ascii_case(&n) || id.eq_ignore_ascii_case(&n))
        {
            return Ok(id.clone());
        }
        let all: Vec<String> = STANDARD_OBJECTS
            .iter()
            .map(|o| o.name.to_string())
            .chain(customs.iter().map(|(n, _)| n.clone()))
            .collect();
        let near = close_matches(name, all.iter().map(String::as_str));
        Err(invalid(format!(
            "unknown object type \"{name}\"; {}",
            if near.is_empty() {
                format!("known types: {}", all.join(", "))
            } else {
                format!("did you mean {}?", near.join(", "))
            }
        )))
    }

    /// The property index of a type (from the metadata cache).
    ///
    /// # Errors
    /// When the properties cannot be fetched.
    pub(crate) async fn property_index_pub(
        &self,
        object_type: &str,
    ) -> Result<PropertyIndex, ToolError> {
        self.property_index(object_type).await
    }

    pub(crate) async fn property_index(
        &self,
        object_type: &str,
    ) -> Result<PropertyIndex, ToolError> {
        let defs = self
            .client
            .properties(object_type)
            .await?
            .into_iter()
            .map(|p| (p.name.clone(), p))
            .collect();
        Ok(PropertyIndex {
            object_type: object_type.to_string(),
            defs,
        })
    }
}
