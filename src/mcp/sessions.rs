//! Sessions of `--stateful` HTTP, bounded in number and in idle time.
//!
//! rmcp's `LocalSessionManager` keeps every session in a map until the client sends DELETE:
//! its idle timeout stops the session's worker but leaves the entry behind, and nothing caps
//! how many there are, so a client that sends `initialize` in a loop grows the server
//! without end. [`BoundedSessions`] wraps it:
//!
//! - at most `max` sessions: `initialize` past that is refused (503 from rmcp), after
//!   first closing sessions that have gone idle;
//! - a session with no request for `idle` is closed and removed (checked every `idle / 4`
//!   by a reaper task, and on every new session).

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures::Stream;
use parking_lot::Mutex;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError,
};
use rmcp::transport::streamable_http_server::session::{
    ServerSseMessage, SessionId, SessionManager,
};
use tokio::time::Instant;

/// Why a session call failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionsError {
    #[error(transparent)]
    Inner(#[from] LocalSessionManagerError),
    #[error(
        "the server holds its maximum of {0} sessions; close one (DELETE /mcp) or retry later"
    )]
    Full(usize),
}

/// A session manager with a cap and idle expiry.
#[derive(Debug)]
pub struct BoundedSessions {
    inner: LocalSessionManager,
    last_seen: Mutex<HashMap<SessionId, Instant>>,
    max: usize,
    idle: Duration,
}

impl BoundedSessions {
    /// At most `max` sessions, each closed after `idle` without a request. Starts the
    /// reaper, which ends when the manager is dropped.
    pub fn start(max: usize, idle: Duration) -> Arc<Self> {
        let mut inner = LocalSessionManager::default();
        inner.session_config.keep_alive = Some(idle);
        let this = Arc::new(Self {
            inner,
            last_seen: Mutex::new(HashMap::new()),
            max,
            idle,
        });
        let weak: Weak<Self> = Arc::downgrade(&this);
        let period = (idle / 4).max(Duration::from_millis(100));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                let Some(me) = weak.upgrade() else { break };
                me.reap().await;
            }
        });
        this
    }

    /// Sessions held now.
    pub fn len(&self) -> usize {
        self.last_seen.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn touch(&self, id: &SessionId) {
        if let Some(t) = self.last_seen.lock().get_mut(id) {
            *t = Instant::now();
        }
    }

    /// Closes every session idle for longer than `idle`.
    pub async fn reap(&self) {
        let expired: Vec<SessionId> = {
            let mut seen = self.last_seen.lock();
            let now = Instant::now();
            let ids: Vec<SessionId> = seen
                .iter()
                .filter(|(_, t)| now.duration_since(**t) >= self.idle)
                .map(|(id, _)| id.clone())
                .collect();
            for id in &ids {
                seen.remove(id);
            }
            ids
        };
        for id in &expired {
            let _ = self.inner.close_session(id).await;
        }
        if !expired.is_empty() {
            tracing::debug!(closed = expired.len(), "idle MCP sessions closed");
        }
    }
}

impl BoundedSessions {
    /// Is there room for one more session (after closing the idle ones)?
    pub async fn has_room(&self) -> bool {
        if self.len() >= self.max {
            self.reap().await;
        }
        self.len() < self.max
    }
}

impl SessionManager for BoundedSessions {
    type Error = SessionsError;
    type Transport = <LocalSessionManager as SessionManager>::Transport;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        if self.len() >= self.max {
            self.reap().await;
        }
        if self.len() >= self.max {
            tracing::warn!(
                max = self.max,
                "MCP session refused: the session cap is reached"
            );
            return Err(SessionsError::Full(self.max));
        }
        let (id, transport) = self.inner.create_session().await?;
        self.last_seen.lock().insert(id.clone(), Instant::now());
        Ok((id, transport))
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        self.touch(id);
        Ok(self.inner.initialize_session(id, message).await?)
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        Ok(self.last_seen.lock().contains_key(id) && self.inner.has_session(id).await?)
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        self.last_seen.lock().remove(id);
        Ok(self.inner.close_session(id).await?)
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.touch(id);
        Ok(self.inner.create_stream(id, message).await?)
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        self.touch(id);
        Ok(self.inner.accept_message(id, message).await?)
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.touch(id);
        Ok(self.inner.create_standalone_stream(id).await?)
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.touch(id);
        Ok(self.inner.resume(id, last_event_id).await?)
    }
}
