//! What can stop a sync step, and whether waiting would fix it.

use crate::hubspot::ApiError;

/// A sync failure.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    HubSpot(#[from] ApiError),
    #[error(transparent)]
    Queue(#[from] super::queue::QueueError),
    #[error(transparent)]
    Index(#[from] crate::index::IndexError),
    #[error(transparent)]
    Embed(#[from] crate::embed::EmbedError),
    #[error("background task failed: {0}")]
    Task(String),
    /// Another worker is writing the same records now; retrying shortly finds them written.
    #[error("{0}")]
    Contended(String),
}

impl SyncError {
    /// Would retrying later succeed? Rate limits, HubSpot's 5xx, an open breaker, the
    /// network, credentials being refreshed, and the database or index being away are
    /// transient: they delay events, never dead-letter them. A 4xx other than 429 (and
    /// 401), a body that cannot be decoded, or text that cannot be embedded is permanent
    /// for the events that cause it.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::HubSpot(e) => match e {
                ApiError::Http { status, .. } => *status == 429 || *status == 401 || *status >= 500,
                ApiError::DailyLimit { .. }
                | ApiError::RateLimited { .. }
                | ApiError::BudgetUnavailable { .. }
                | ApiError::CircuitOpen { .. }
                | ApiError::Timeout { .. }
                | ApiError::Transport { .. }
                | ApiError::Auth(_) => true,
                ApiError::Decode { .. }
                | ApiError::ProductionGuard { .. }
                | ApiError::Invalid(_) => false,
            },
            Self::Queue(_) | Self::Index(_) | Self::Contended(_) => true,
            // A panic in a blocking task, or text the model refuses: the same input fails the
            // same way next time.
            Self::Task(_) | Self::Embed(_) => false,
        }
    }
}
