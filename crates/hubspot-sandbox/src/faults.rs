//! Faults on demand: what HubSpot does on a bad day, injected per route or globally, for N
//! requests or for a span of time (on the sandbox clock).
//!
//! A rule matches a request by method and path pattern (`*` matches any run of characters,
//! so `/crm/v3/objects/*/search` or `*` for everything). Latency rules add up and then let the
//! request continue; the first matching terminal rule (status, 429, drop) answers instead of
//! the route, and uses up one of its `count`.

use serde::{Deserialize, Serialize};

use super::limits::Policy;

/// What a fault does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer with this status (423, 477, 500, 502, 503, 504, 521–526, …) and HubSpot's body.
    Status { status: u16 },
    /// Answer 429 with the given policy's body.
    RateLimit { policy: Policy },
    /// Add latency, then serve the request normally.
    Latency { ms: u64 },
    /// Close the connection without answering.
    Drop,
}

impl<'de> Deserialize<'de> for Policy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.as_str() {
            "TEN_SECONDLY_ROLLING" => Ok(Policy::TenSecondlyRolling),
            "DAILY" => Ok(Policy::Daily),
            "SECONDLY" => Ok(Policy::Secondly),
            other => Err(serde::de::Error::custom(format!(
                "unknown policy {other}; use TEN_SECONDLY_ROLLING, DAILY or SECONDLY"
            ))),
        }
    }
}

/// One fault rule, as the admin route and the library API take it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultSpec {
    #[serde(flatten)]
    pub kind: FaultKind,
    /// Path pattern; `None` matches every API route.
    #[serde(default)]
    pub route: Option<String>,
    /// HTTP method; `None` matches any.
    #[serde(default)]
    pub method: Option<String>,
    /// Apply to this many requests, then retire.
    #[serde(default)]
    pub count: Option<u32>,
    /// Apply for this long from installation (sandbox clock).
    #[serde(default)]
    pub for_ms: Option<i64>,
    /// `Retry-After` seconds to send (429, 477, 503).
    #[serde(default)]
    pub retry_after_secs: Option<u64>,
}

impl FaultSpec {
    /// A fault of `kind` on every route, until removed.
    pub fn new(kind: FaultKind) -> Self {
        Self {
            kind,
            route: None,
            method: None,
            count: None,
            for_ms: None,
            retry_after_secs: None,
        }
    }
    /// Restricts it to a path pattern.
    pub fn on(mut self, route: &str) -> Self {
        self.route = Some(route.into());
        self
    }
    /// Restricts it to a method.
    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_ascii_uppercase());
        self
    }
    /// Applies it to `n` requests only.
    pub fn times(mut self, n: u32) -> Self {
        self.count = Some(n);
        self
    }
    /// Applies it for a span of time.
    pub fn for_duration(mut self, d: std::time::Duration) -> Self {
        self.for_ms = Some(d.as_millis() as i64);
        self
    }
    /// Sends `Retry-After`.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }
}

#[derive(Debug, Clone)]
struct Active {
    id: u64,
    spec: FaultSpec,
    remaining: Option<u32>,
    until_ms: Option<i64>,
    hits: u64,
}

/// Installed faults.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Vec<Active>,
    next_id: u64,
}

/// What the gateway must do for one request.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Decision {
    pub latency_ms: u64,
    pub terminal: Option<(FaultKind, Option<u64>)>,
}

/// `*` wildcard matching of a path.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == path || (pattern.ends_with('/') && path.starts_with(pattern));
    }
    let mut rest = path;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else if let Some(pos) = rest.find(part) {
            rest = &rest[pos + part.len()..];
        } else {
            return false;
        }
    }
    true
}

impl Faults {
    /// Installs a rule; returns its id.
    pub fn add(&mut self, spec: FaultSpec, now_ms: i64) -> u64 {
        self.next_id += 1;
        let until_ms = spec.for_ms.map(|d| now_ms + d);
        self.rules.push(Active {
            id: self.next_id,
            remaining: spec.count,
            until_ms,
            spec,
            hits: 0,
        });
        self.next_id
    }

    /// Removes every rule.
    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// Installed rules with their hit counts, for the admin route.
    pub fn list(&self) -> Vec<serde_json::Value> {
        self.rules
            .iter()
            .map(|r| serde_json::json!({"id": r.id, "spec": r.spec, "remaining": r.remaining, "untilMs": r.until_ms, "hits": r.hits}))
            .collect()
    }

    /// Decides the faults for one request and consumes counts.
    pub fn decide(&mut self, method: &str, path: &str, now_ms: i64) -> Decision {
        self.rules
            .retain(|r| r.remaining != Some(0) && r.until_ms.is_none_or(|u| now_ms < u));
        let mut d = Decision::default();
        for r in &mut self.rules {
            let route_ok = r
                .spec
                .route
                .as_deref()
                .is_none_or(|p| path_matches(p, path));
            let method_ok = r
                .spec
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method));
            if !(route_ok && method_ok) {
                continue;
            }
            match &r.spec.kind {
                FaultKind::Latency { ms } => {
                    d.latency_ms += ms;
                }
                kind => {
                    if d.terminal.is_some() {
                        continue;
                    }
                    d.terminal = Some((kind.clone(), r.spec.retry_after_secs));
                }
            }
            r.hits += 1;
            if let Some(n) = r.remaining.as_mut() {
                *n -= 1;
            }
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_fault_retires_after_n_requests() {
        let mut f = Faults::default();
        f.add(
            FaultSpec::new(FaultKind::Status { status: 503 })
                .on("/crm/v3/objects/*")
                .times(2),
            0,
        );
        assert!(f
            .decide("GET", "/crm/v3/objects/contacts", 0)
            .terminal
            .is_some());
        assert!(f.decide("GET", "/crm/v3/owners", 0).terminal.is_none());
        assert!(f
            .decide("GET", "/crm/v3/objects/contacts/1", 0)
            .terminal
            .is_some());
        assert!(f
            .decide("GET", "/crm/v3/objects/contacts", 0)
            .terminal
            .is_none());
    }

    #[test]
    fn timed_fault_expires_and_latency_adds_up() {
        let mut f = Faults::default();
        f.add(FaultSpec::new(FaultKind::Latency { ms: 20 }), 0);
        f.add(
            FaultSpec::new(FaultKind::Latency { ms: 5 }).method("POST"),
            0,
        );
        f.add(
            FaultSpec::new(FaultKind::Drop).for_duration(std::time::Duration::from_secs(1)),
            0,
        );
        let d = f.decide("POST", "/x", 999);
        assert_eq!(d.latency_ms, 25);
        assert_eq!(d.terminal, Some((FaultKind::Drop, None)));
        assert_eq!(f.decide("POST", "/x", 1_000).terminal, None);
    }

    #[test]
    fn parses_admin_json() {
        let spec: FaultSpec = serde_json::from_str(
            r#"{"type":"rate_limit","policy":"TEN_SECONDLY_ROLLING","count":3,"route":"*"}"#,
        )
        .unwrap();
        assert_eq!(
            spec.kind,
            FaultKind::RateLimit {
                policy: Policy::TenSecondlyRolling
            }
        );
        assert_eq!(spec.count, Some(3));
    }
}
