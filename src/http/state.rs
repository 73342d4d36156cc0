//! What every handler shares.

use crate::auth::TokenCache;
use crate::config::Settings;
use crate::db::Db;
use crate::http::public::RateLimiter;
use crate::secrets::Signer;

/// Shared by every request handler.
pub struct AppState {
    pub db: Db,
    pub settings: Settings,
    pub tokens: TokenCache,
    pub rate_limiter: RateLimiter,
    pub redis: Option<redis::Client>,
    pub attachments: std::sync::Arc<crate::attachments::FileStore>,
    pub live: std::sync::Arc<crate::kpi::Live>,
    /// Signs and verifies the tokens of case links, survey links and reply addresses.
    pub signer: std::sync::Arc<Signer>,
    /// The workspace's live feed of this replica, read by the agents' streams.
    pub feed: std::sync::Arc<crate::workspace::feed::Feed>,
    /// Shares the report rollup's refreshes between the reports asked for at once.
    pub reports: std::sync::Arc<crate::reports::rollup::Freshness>,
}
