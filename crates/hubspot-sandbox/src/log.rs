//! The request log: what the sandbox saw, for tests and benchmarks to assert on.
//!
//! Counters (per route template, per status, 429s per policy) are kept for every request;
//! full entries (with bodies, when enabled) go to a bounded ring. OAuth bodies are never
//! kept and token path segments are masked, so secrets do not leak through the log.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

/// One logged request.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    pub seq: u64,
    pub at_ms: i64,
    pub method: String,
    /// The path, with token segments masked.
    pub path: String,
    /// The route template (`/crm/v3/objects/contacts/{id}`).
    pub route: String,
    pub status: u16,
    pub correlation_id: String,
    /// `policyName` of a 429, if any.
    pub policy: Option<String>,
    /// The injected fault that answered, if any.
    pub fault: Option<String>,
    /// The calling app, once authenticated.
    pub app: Option<String>,
    pub request_body: Option<String>,
    pub response_body: Option<String>,
    pub latency_us: u64,
}

/// Counts per route.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RouteStats {
    pub count: u64,
    pub statuses: BTreeMap<u16, u64>,
}

/// A summary of everything the sandbox served.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogSummary {
    pub total: u64,
    pub routes: BTreeMap<String, RouteStats>,
    pub statuses: BTreeMap<u16, u64>,
    pub rate_limited: BTreeMap<String, u64>,
    pub dropped: u64,
}

/// The log itself.
#[derive(Debug)]
pub struct RequestLog {
    capacity: usize,
    pub keep_bodies: bool,
    entries: VecDeque<LogEntry>,
    summary: LogSummary,
    seq: u64,
}

impl RequestLog {
    /// A log keeping at most `capacity` full entries.
    pub fn new(capacity: usize, keep_bodies: bool) -> Self {
        Self {
            capacity,
            keep_bodies,
            entries: VecDeque::new(),
            summary: LogSummary::default(),
            seq: 0,
        }
    }

    /// Records one request.
    pub fn record(&mut self, mut entry: LogEntry) {
        self.seq += 1;
        entry.seq = self.seq;
        let s = &mut self.summary;
        s.total += 1;
        let r = s
            .routes
            .entry(format!("{} {}", entry.method, entry.route))
            .or_default();
        r.count += 1;
        *r.statuses.entry(entry.status).or_default() += 1;
        *s.statuses.entry(entry.status).or_default() += 1;
        if let Some(p) = &entry.policy {
            *s.rate_limited.entry(p.clone()).or_default() += 1;
        }
        if entry.fault.as_deref() == Some("drop") {
            s.dropped += 1;
        }
        if self.capacity > 0 {
            if self.entries.len() == self.capacity {
                self.entries.pop_front();
            }
            self.entries.push_back(entry);
        }
    }

    /// The counters.
    pub fn summary(&self) -> LogSummary {
        self.summary.clone()
    }

    /// The retained entries, oldest first.
    pub fn entries(&self) -> Vec<LogEntry> {
        self.entries.iter().cloned().collect()
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.summary = LogSummary::default();
    }
}

/// Masks credentials in a path (`/oauth/v1/access-tokens/{token}`).
pub fn mask_path(path: &str) -> String {
    for prefix in ["/oauth/v1/access-tokens/", "/oauth/v1/refresh-tokens/"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            if !rest.is_empty() {
                return format!("{prefix}[redacted]");
            }
        }
    }
    path.to_string()
}

/// The route template of a path: ids and tokens become `{id}`.
pub fn route_template(path: &str) -> String {
    let masked = mask_path(path);
    masked
        .split('/')
        .map(|seg| {
            let numeric = !seg.is_empty() && seg.chars().all(|c| c.is_ascii_digit());
            if numeric && seg.len() > 3 {
                "{id}"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_hide_ids_and_tokens() {
        assert_eq!(
            route_template("/crm/v3/objects/contacts/10000123"),
            "/crm/v3/objects/contacts/{id}"
        );
        assert_eq!(
            route_template("/crm/objects/2026-03/0-1/batch/read"),
            "/crm/objects/2026-03/0-1/batch/read"
        );
        assert_eq!(
            route_template("/oauth/v1/access-tokens/sbx-at-secret"),
            "/oauth/v1/access-tokens/[redacted]"
        );
    }
}
