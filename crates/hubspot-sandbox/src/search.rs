//! The CRM search API (`POST /crm/v3/objects/{t}/search`), strict to HubSpot's documented
//! limits (§2a of the API facts): ≤ 5 filter groups, ≤ 6 filters per group, ≤ 18 filters in
//! all, a page of ≤ 200, an offset that may not reach 10,000, a query of ≤ 3,000 characters,
//! and results that lag writes by the configured indexing delay. Filters inside a group are
//! ANDed, groups are ORed; only the first sort is applied. Every limit is a field of
//! [`SearchLimits`] because HubSpot's own statements conflict (5/6/18 vs 5/10/25).

use std::cmp::Ordering;

use serde::Deserialize;
use serde_json::{json, Value};

use super::error::HsError;
use super::model::{ObjectType, PropertyDef, Record};
use super::store::Store;
use hubspot_wire::search::OPERATORS;
use hubspot_wire::time::parse_hs_datetime;

/// Search limits (HubSpot's current documentation by default).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct SearchLimits {
    pub max_filter_groups: usize,
    pub max_filters_per_group: usize,
    pub max_filters_total: usize,
    pub max_page_size: usize,
    pub max_results: usize,
    pub max_query_chars: usize,
}

impl Default for SearchLimits {
    fn default() -> Self {
        Self {
            max_filter_groups: 5,
            max_filters_per_group: 6,
            max_filters_total: 18,
            max_page_size: 200,
            max_results: 10_000,
            max_query_chars: 3_000,
        }
    }
}

/// `PublicObjectSearchRequest`.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SearchRequest {
    #[serde(default)]
    pub filter_groups: Vec<FilterGroup>,
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub properties: Vec<String>,
    #[serde(default)]
    pub sorts: Vec<Sort>,
    #[serde(default)]
    pub limit: Option<Value>,
    #[serde(default)]
    pub after: Option<Value>,
}

/// A group of ANDed filters.
#[derive(Debug, Deserialize, Default)]
pub struct FilterGroup {
    #[serde(default)]
    pub filters: Vec<Filter>,
}

/// One filter.
#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    pub property_name: String,
    pub operator: String,
    #[serde(default)]
    pub value: Option<Value>,
    #[serde(default)]
    pub high_value: Option<Value>,
    #[serde(default)]
    pub values: Option<Vec<Value>>,
}

/// A sort: the documented object form, or the spec's string form (`"-createdate"` descending).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Sort {
    Object {
        #[serde(rename = "propertyName")]
        property_name: String,
        #[serde(default)]
        direction: Option<String>,
    },
    Name(String),
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn parse_usize(v: &Option<Value>, what: &str) -> Result<Option<usize>, HsError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => scalar(v).trim().parse::<usize>().map(Some).map_err(|_| {
            HsError::validation(format!(
                "Invalid {what}: {} is not a non-negative integer.",
                scalar(v)
            ))
        }),
    }
}

/// Checks the request against the limits before any record is read.
///
/// # Errors
/// 400 `VALIDATION_ERROR` naming the limit that was exceeded.
pub fn validate(req: &SearchRequest, limits: &SearchLimits) -> Result<(usize, usize), HsError> {
    if req.filter_groups.len() > limits.max_filter_groups {
        return Err(HsError::validation(format!(
            "Too many filter groups: {} were given and at most {} are allowed.",
            req.filter_groups.len(),
            limits.max_filter_groups
        ))
        .with_sub_category("TOO_MANY_FILTER_GROUPS"));
    }
    let mut total = 0;
    for g in &req.filter_groups {
        if g.filters.len() > limits.max_filters_per_group {
            return Err(HsError::validation(format!(
                "Too many filters in one filter group: {} were given and at most {} are allowed.",
                g.filters.len(),
                limits.max_filters_per_group
            ))
            .with_sub_category("TOO_MANY_FILTERS"));
        }
        total += g.filters.len();
        for f in &g.filters {
            if !OPERATORS.contains(&f.operator.as_str()) {
                return Err(HsError::validation(format!(
                    "Unknown operator \"{}\" on property \"{}\". Allowed: {}.",
                    f.operator,
                    f.property_name,
                    OPERATORS.join(", ")
                )));
            }
        }
    }
    if total > limits.max_filters_total {
        return Err(HsError::validation(format!(
            "Too many filters: {total} were given and at most {} are allowed across all filter groups.",
            limits.max_filters_total
        ))
        .with_sub_category("TOO_MANY_FILTERS"));
    }
    if let Some(q) = &req.query {
        let n = q.chars().count();
        if n > limits.max_query_chars {
            return Err(HsError::validation(format!(
                "The query is {n} characters long; at most {} are allowed.",
                limits.max_query_chars
            )));
        }
    }
    let limit = parse_usize(&req.limit, "limit")?.unwrap_or(10);
    if limit > limits.max_page_size {
        return Err(HsError::validation(format!(
            "limit {limit} is too large: a search page holds at most {} results.",
            limits.max_page_size
        )));
    }
    let after = parse_usize(&req.after, "after")?.unwrap_or(0);
    if after >= limits.max_results {
        return Err(HsError::validation(format!(
            "Search results are capped at {} per query; after={after} is past the cap. Narrow the filters (for example on hs_object_id) to read further.",
            limits.max_results
        )));
    }
    Ok((limit, after))
}

/// Runs a validated search.
///
/// # Errors
/// 400 for a filter on a property that does not exist or a malformed value.
pub fn run(
    store: &Store,
    ty: &ObjectType,
    req: &SearchRequest,
    limits: &SearchLimits,
    now_ms: i64,
) -> Result<Value, HsError> {
    let (limit, after) = validate(req, limits)?;
    // Resolve filters against the property definitions once.
    let mut groups: Vec<Vec<(Filter, Option<&PropertyDef>)>> = Vec::new();
    for g in &req.filter_groups {
        let mut fs = Vec::new();
        for f in &g.filters {
            let def = if f.property_name.starts_with("associations.") {
                let target = &f.property_name["associations.".len()..];
                let tt = store.resolve_type(target)?;
                if tt.custom {
                    return Err(HsError::validation(format!(
                        "{} is not supported: association filters work only for standard objects.",
                        f.property_name
                    )));
                }
                None
            } else {
                Some(store.property(&ty.id, &f.property_name).ok_or_else(|| {
                    HsError::validation(format!("Property \"{}\" does not exist on {}; use a property from GET /crm/v3/properties/{}.", f.property_name, ty.name, ty.name))
                        .with_sub_category("PROPERTY_DOESNT_EXIST")
                })?)
            };
            fs.push((f.clone(), def));
        }
        groups.push(fs);
    }
    let prepared: Vec<Vec<Prepared<'_>>> = groups
        .iter()
        .map(|g| g.iter().map(|(f, d)| Prepared::new(f, *d)).collect())
        .collect();
    let query_tokens: Vec<String> = req.query.as_deref().map(tokens).unwrap_or_default();
    let sort = req.sorts.first().map(|s| match s {
        Sort::Object {
            property_name,
            direction,
        } => (
            property_name.clone(),
            direction
                .as_deref()
                .is_some_and(|d| d.eq_ignore_ascii_case("DESCENDING")),
        ),
        Sort::Name(n) => match n.strip_prefix('-') {
            Some(rest) => (rest.to_string(), true),
            None => (n.clone(), false),
        },
    });

    let mut hits: Vec<(&Record, &std::collections::BTreeMap<String, String>)> = Vec::new();
    for rec in store.records_of(&ty.id).values() {
        if rec.archived_ms.is_some() {
            continue;
        }
        let Some(view) = rec.search_view(now_ms) else {
            continue;
        };
        if !query_tokens.is_empty() && !matches_query(ty, view, &query_tokens) {
            continue;
        }
        if !prepared.is_empty()
            && !prepared
                .iter()
                .any(|g| g.iter().all(|p| matches(store, ty, rec.id, view, p)))
        {
            continue;
        }
        hits.push((rec, view));
    }
    if let Some((name, desc)) = &sort {
        let def = store.property(&ty.id, name);
        // Records without a value sort last in either direction.
        hits.sort_by(|a, b| {
            let (x, y) = (
                a.1.get(name).filter(|v| !v.is_empty()),
                b.1.get(name).filter(|v| !v.is_empty()),
            );
            let o = match (x, y) {
                (Some(x), Some(y)) if *desc => compare_present(def, y, x),
                _ => compare_values(def, x, y),
            };
            o.then(a.0.id.cmp(&b.0.id))
        });
    }
    let total = hits.len();
    let requested = if req.properties.is_empty() {
        None
    } else {
        Some(req.properties.as_slice())
    };
    let results: Vec<Value> = hits
        .iter()
        .skip(after)
        .take(limit)
        .map(|(rec, _)| store.render(ty, rec, requested, None))
        .collect();
    let mut body = json!({"total": total, "results": results});
    if after + limit < total {
        body["paging"] = json!({"next": {"after": (after + limit).to_string()}});
    }
    Ok(body)
}

/// Lowercase word tokens (letters, digits, and the characters emails and domains use).
fn tokens(s: &str) -> Vec<String> {
    s.to_lowercase()
        .split(|c: char| {
            !(c.is_alphanumeric() || c == '@' || c == '.' || c == '-' || c == '_' || c == '+')
        })
        .map(|t| t.trim_matches('.').to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

fn matches_query(
    ty: &ObjectType,
    view: &std::collections::BTreeMap<String, String>,
    query: &[String],
) -> bool {
    // Lowercase each searchable value once and test word prefixes in place: this runs for
    // every record on every free-text search, so it allocates nothing per word.
    let values: Vec<String> = ty
        .searchable_properties
        .iter()
        .filter_map(|p| view.get(p))
        .map(|v| v.to_lowercase())
        .collect();
    query.iter().all(|q| {
        values.iter().any(|v| {
            v.split(|c: char| {
                !(c.is_alphanumeric() || c == '@' || c == '.' || c == '-' || c == '_' || c == '+')
            })
            .any(|w| w.trim_matches('.').starts_with(q.as_str()))
                || v.split(|c: char| !c.is_alphanumeric())
                    .any(|w| w.starts_with(q.as_str()))
        })
    })
}

fn compare_values(def: Option<&PropertyDef>, a: Option<&String>, b: Option<&String>) -> Ordering {
    match (a.filter(|v| !v.is_empty()), b.filter(|v| !v.is_empty())) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(a), Some(b)) => compare_present(def, a, b),
    }
}

fn as_number(def: Option<&PropertyDef>, v: &str) -> Option<f64> {
    match def {
        Some(d) if d.is_number() => v.trim().parse().ok(),
        Some(d) if d.is_temporal() => parse_hs_datetime(v).map(|ms| ms as f64),
        _ => None,
    }
}

fn compare_present(def: Option<&PropertyDef>, a: &str, b: &str) -> Ordering {
    match (as_number(def, a), as_number(def, b)) {
        (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        _ => a.to_lowercase().cmp(&b.to_lowercase()),
    }
}

fn value_equals(def: Option<&PropertyDef>, stored: &str, wanted: &str) -> bool {
    match def {
        Some(d) if d.is_enum() => {
            stored == wanted
                || (d.field_type == "checkbox" && stored.split(';').any(|p| p == wanted))
        }
        _ => match (as_number(def, stored), as_number(def, wanted)) {
            (Some(x), Some(y)) => x == y,
            _ => stored.eq_ignore_ascii_case(wanted.trim()),
        },
    }
}

fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut pos = 0;
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        if i == 0 {
            if !text.starts_with(part) {
                return false;
            }
            pos = part.len();
        } else if i == parts.len() - 1 {
            return text.len() >= pos + part.len() && text.ends_with(part);
        } else if let Some(found) = text[pos..].find(part) {
            pos += found + part.len();
        } else {
            return false;
        }
    }
    true
}

fn contains_token(stored: &str, wanted: &str) -> bool {
    let pattern = wanted.trim().to_lowercase();
    let full = stored.to_lowercase();
    glob(&pattern, &full)
        || tokens(stored).iter().any(|t| glob(&pattern, t))
        || full.split_whitespace().any(|t| glob(&pattern, t))
}

/// A filter with its values turned to strings once, not once per record.
struct Prepared<'a> {
    f: &'a Filter,
    def: Option<&'a PropertyDef>,
    value: String,
    high: String,
    values: Vec<String>,
}

impl<'a> Prepared<'a> {
    fn new(f: &'a Filter, def: Option<&'a PropertyDef>) -> Self {
        Self {
            f,
            def,
            value: f.value.as_ref().map(scalar).unwrap_or_default(),
            high: f.high_value.as_ref().map(scalar).unwrap_or_default(),
            values: f
                .values
                .as_deref()
                .unwrap_or_default()
                .iter()
                .map(scalar)
                .collect(),
        }
    }
}

fn matches(
    store: &Store,
    ty: &ObjectType,
    id: u64,
    view: &std::collections::BTreeMap<String, String>,
    p: &Prepared<'_>,
) -> bool {
    let (f, def) = (p.f, p.def);
    if let Some(target) = f.property_name.strip_prefix("associations.") {
        let Ok(tt) = store.resolve_type(target) else {
            return false;
        };
        let wanted = &p.value;
        let linked = store
            .associations(&ty.id, id, &tt.id)
            .iter()
            .any(|(to, _)| to.to_string() == wanted.trim());
        return match f.operator.as_str() {
            "NEQ" => !linked,
            _ => linked,
        };
    }
    let stored = view
        .get(&f.property_name)
        .map(String::as_str)
        .filter(|v| !v.is_empty());
    let value = &p.value;
    let ord = |s: &str| compare_present(def, s, value);
    match f.operator.as_str() {
        "HAS_PROPERTY" => stored.is_some(),
        "NOT_HAS_PROPERTY" => stored.is_none(),
        "EQ" => stored.is_some_and(|s| value_equals(def, s, value)),
        "NEQ" => !stored.is_some_and(|s| value_equals(def, s, value)),
        "LT" => stored.is_some_and(|s| ord(s) == Ordering::Less),
        "LTE" => stored.is_some_and(|s| ord(s) != Ordering::Greater),
        "GT" => stored.is_some_and(|s| ord(s) == Ordering::Greater),
        "GTE" => stored.is_some_and(|s| ord(s) != Ordering::Less),
        "BETWEEN" => stored.is_some_and(|s| {
            compare_present(def, s, value) != Ordering::Less
                && compare_present(def, s, &p.high) != Ordering::Greater
        }),
        "IN" | "NOT_IN" => {
            let hit = stored.is_some_and(|s| {
                p.values.iter().any(|v| match def {
                    // Strings compare against their lowercase form: HubSpot requires lowercase
                    // values for IN/NOT_IN on strings, so an uppercase value never matches.
                    Some(d) if d.kind == "string" => s.to_lowercase() == *v,
                    _ => value_equals(def, s, v),
                })
            });
            if f.operator == "IN" {
                hit
            } else {
                !hit
            }
        }
        "CONTAINS_TOKEN" => stored.is_some_and(|s| contains_token(s, value)),
        "NOT_CONTAINS_TOKEN" => !stored.is_some_and(|s| contains_token(s, value)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_wildcards() {
        assert!(glob("*@example.com", "ann@example.com"));
        assert!(glob("ann*", "annabel"));
        assert!(glob("*nab*", "annabel"));
        assert!(!glob("bob*", "annabel"));
        assert!(glob("exact", "exact"));
    }

    #[test]
    fn limits_are_checked_before_reading_records() {
        let limits = SearchLimits::default();
        let req = SearchRequest {
            limit: Some(json!(201)),
            ..Default::default()
        };
        assert!(validate(&req, &limits)
            .unwrap_err()
            .message()
            .contains("at most 200"));
        let req = SearchRequest {
            after: Some(json!("10000")),
            ..Default::default()
        };
        assert!(validate(&req, &limits).is_err());
        let req = SearchRequest {
            after: Some(json!("9999")),
            limit: Some(json!(200)),
            ..Default::default()
        };
        assert_eq!(validate(&req, &limits).unwrap(), (200, 9999));
        let req = SearchRequest {
            query: Some("x".repeat(3001)),
            ..Default::default()
        };
        assert!(validate(&req, &limits).is_err());
    }
}
