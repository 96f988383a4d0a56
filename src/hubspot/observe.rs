//! Watching the client's requests without the client knowing who watches.
//!
//! The audit log records, for each tool call, the HubSpot requests it caused (method, route
//! template, status, correlation id). The client must not depend on the audit log to allow
//! that, so the client defines this small interface and the audit log implements it: a
//! [`CallObserver`] installed around a future with [`observed`] sees every request the client
//! sends inside that future, on whatever task-local scope it runs in.

use std::future::Future;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// One request the client sent (or tried to).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ObservedCall {
    pub method: String,
    /// The path with record ids replaced by `{id}`: `/crm/objects/2026-03/tickets/{id}`.
    pub route: String,
    /// `None` when no answer arrived (timeout, connection failure).
    pub status: Option<u16>,
    pub correlation_id: Option<String>,
}

/// Something that wants to hear about requests.
pub trait CallObserver: Send + Sync {
    fn observe(&self, call: ObservedCall);
}

tokio::task_local! {
    static OBSERVER: Arc<dyn CallObserver>;
}

/// Runs `f` with `observer` hearing about every request the client sends inside it.
pub async fn observed<F: Future>(observer: Arc<dyn CallObserver>, f: F) -> F::Output {
    OBSERVER.scope(observer, f).await
}

/// Tells the current scope's observer, if there is one.
pub(crate) fn report(call: ObservedCall) {
    let _ = OBSERVER.try_with(|o| o.observe(call));
}

/// `/crm/v3/objects/contacts/123` → `/crm/v3/objects/contacts/{id}`.
pub(crate) fn route_of(path: &str) -> String {
    path.split('/')
        .map(|s| {
            if s.len() > 3 && s.chars().all(|c| c.is_ascii_digit()) {
                "{id}"
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect(parking_lot::Mutex<Vec<ObservedCall>>);

    impl CallObserver for Collect {
        fn observe(&self, call: ObservedCall) {
            self.0.lock().push(call);
        }
    }

    #[tokio::test]
    async fn only_the_scope_that_installed_an_observer_hears_its_requests() {
        let c = Arc::new(Collect::default());
        let call = |s| ObservedCall {
            method: "GET".into(),
            route: route_of(s),
            status: Some(200),
            correlation_id: None,
        };
        observed(c.clone(), async {
            report(call("/crm/v3/objects/contacts/1234"))
        })
        .await;
        report(call("/outside"));
        let seen = c.0.lock().clone();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].route, "/crm/v3/objects/contacts/{id}");
    }
}
