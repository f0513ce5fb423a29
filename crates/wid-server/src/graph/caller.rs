//! Authentication of Graph requests: a bearer token wid's identity plane issued for the
//! Graph resource (`Cloud::graph_resource`, with or without its trailing slash) and for no
//! other audience, as Microsoft Graph accepts only its own.

use super::error::GraphError;
use crate::access_token::{self, TokenError};
use crate::state::AppState;
use axum::http::HeaderMap;
use wid_jose::TimeWindowError;

/// Who is calling Graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphCaller {
    pub tenant_id: String,
    /// The user's or service principal's object id.
    pub object_id: String,
    pub app_id: String,
    /// Set for delegated (user) tokens: the signed-in user's UPN.
    pub user: Option<String>,
}

impl GraphCaller {
    /// Whether `id` (an object id, or a UPN for users) names the caller itself.
    pub fn is(&self, id: &str) -> bool {
        self.object_id.eq_ignore_ascii_case(id)
            || self
                .user
                .as_deref()
                .is_some_and(|upn| upn.eq_ignore_ascii_case(id))
    }
}

pub fn bearer_caller(state: &AppState, headers: &HeaderMap) -> Result<GraphCaller, GraphError> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| GraphError::invalid_token("Access token is empty."))?;
    let graph = state.cloud.graph_resource();
    let graph = graph.trim_end_matches('/');
    let claims = access_token::verify(state, token, |aud| {
        aud.strip_suffix('/').unwrap_or(aud) == graph
    })
    .and_then(|claims| access_token::check_window(state, &claims).map(|()| claims))
    .map_err(|e| match e {
        TokenError::Audience { .. } => {
            GraphError::invalid_token("Access token validation failure. Invalid audience.")
        }
        TokenError::Window(TimeWindowError::Expired { .. }) => {
            GraphError::invalid_token("Lifetime validation failed, the token is expired.")
        }
        TokenError::Window(_) => {
            GraphError::invalid_token("Lifetime validation failed, the token is not yet valid.")
        }
        TokenError::Malformed => {
            GraphError::invalid_token("IDX14100: JWT is not well formed, there are no dots (.).")
        }
        _ => GraphError::invalid_token("Access token validation failure."),
    })?;
    let delegated = claims.idtyp.as_deref() == Some("user") || claims.scp.is_some();
    Ok(GraphCaller {
        tenant_id: claims.tid.clone(),
        app_id: claims.app_id().to_owned(),
        user: delegated.then(|| claims.upn.clone().unwrap_or_default()),
        object_id: claims.oid,
    })
}
