//! Graph's OData envelope: `@odata.context`, `value` arrays paged with `$top` and
//! `@odata.nextLink`, `$filter` (`wid_core::graph_filter`) and `$select`; and request bodies
//! read as Graph reads them.

use super::error::GraphError;
use crate::state::AppState;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};
use wid_core::graph_filter::{Filterable, GraphFilter, Shape};

/// Graph's default page size for directory objects, and its largest `$top`.
const DEFAULT_TOP: usize = 100;
const MAX_TOP: usize = 999;

/// The query options of a listing.
#[derive(Debug, Default)]
pub struct ListQuery {
    filter: Option<String>,
    top: Option<String>,
    skip_token: Option<String>,
    select: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for ListQuery {
    type Rejection = GraphError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, GraphError> {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(parts.uri.query().unwrap_or(""))
                .map_err(|_| GraphError::bad_request("The query string could not be parsed."))?;
        let mut q = ListQuery::default();
        for (k, v) in pairs {
            // OData accepts the options with or without `$`, in any case.
            let name = k.trim_start_matches('$').to_ascii_lowercase();
            let slot = match name.as_str() {
                "filter" => &mut q.filter,
                "top" => &mut q.top,
                "skiptoken" => &mut q.skip_token,
                "select" => &mut q.select,
                // `$count`, `$orderby`, `$expand`...: not honoured; results keep their order.
                _ => continue,
            };
            *slot = Some(v);
        }
        Ok(q)
    }
}

/// The rendered object's own values are what a filter reads, so a filter and the body the
/// caller sees cannot disagree.
struct Rendered<'a>(&'a Value);

impl Filterable for Rendered<'_> {
    fn values(&self, property: &str) -> Vec<&str> {
        match self.0.get(property) {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }
}

/// Keeps only the `$select`ed properties (and `id`, which Graph always returns).
pub fn select(object: Value, select: Option<&str>) -> Value {
    let (Some(select), Value::Object(map)) = (select, &object) else {
        return object;
    };
    let wanted: Vec<&str> = select.split(',').map(str::trim).collect();
    let kept: Map<String, Value> = map
        .iter()
        .filter(|(k, _)| {
            k.as_str() == "id"
                || k.starts_with("@odata.")
                || wanted.iter().any(|w| w.eq_ignore_ascii_case(k))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Value::Object(kept)
}

impl ListQuery {
    pub fn select_of(&self) -> Option<&str> {
        self.select.as_deref()
    }

    pub fn filter_of(&self) -> Option<&str> {
        self.filter.as_deref()
    }

    pub fn skip_token_of(&self) -> Option<&str> {
        self.skip_token.as_deref()
    }

    /// `$top` within `1..=max`, else `default`; anything else is Graph's 400.
    pub fn top_within(&self, default: usize, max: usize) -> Result<usize, GraphError> {
        match self.top.as_deref() {
            None => Ok(default),
            Some(t) => match t.parse::<usize>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(GraphError::bad_request(format!(
                    "Invalid page size specified: '{t}'. Must be between 1 and {max} inclusive."
                ))),
            },
        }
    }

    /// One page of `items` (already in their listing order) of the collection `path`
    /// (`users`, `applications/{id}/federatedIdentityCredentials`…), filtered over
    /// `properties`.
    pub fn page(
        &self,
        state: &AppState,
        path: &str,
        properties: &[(&str, Shape)],
        items: Vec<Value>,
    ) -> Result<Value, GraphError> {
        let filter = self
            .filter
            .as_deref()
            .map(|f| GraphFilter::parse(f, properties))
            .transpose()
            .map_err(|e| GraphError::bad_request(e.to_string()))?;
        let top = self.top_within(DEFAULT_TOP, MAX_TOP)?;
        let skip = match self.skip_token.as_deref() {
            None => 0,
            Some(t) => t
                .parse::<usize>()
                .map_err(|_| GraphError::bad_request("Invalid $skiptoken."))?,
        };
        let matching: Vec<Value> = items
            .into_iter()
            .filter(|v| filter.as_ref().is_none_or(|f| f.matches(&Rendered(v))))
            .collect();
        let more = matching.len() > skip + top;
        let value: Vec<Value> = matching
            .into_iter()
            .skip(skip)
            .take(top)
            .map(|v| select(v, self.select.as_deref()))
            .collect();
        let base = state.cloud.graph_resource();
        let mut page = json!({
            "@odata.context": format!("{base}v1.0/$metadata#{}", context_of(path)),
            "value": value,
        });
        if more {
            let next = self.next_link(
                &format!("{base}v1.0/{path}"),
                top,
                &(skip + top).to_string(),
            )?;
            page["@odata.nextLink"] = json!(next);
        }
        Ok(page)
    }

    /// `@odata.nextLink` for the page after this one: `url` with the page size, where the next
    /// page starts, and the request's `$filter` and `$select`.
    pub fn next_link(&self, url: &str, top: usize, skiptoken: &str) -> Result<String, GraphError> {
        let top = top.to_string();
        let mut query = vec![("$top", top.as_str()), ("$skiptoken", skiptoken)];
        for (name, v) in [("$filter", &self.filter), ("$select", &self.select)] {
            if let Some(v) = v {
                query.push((name, v));
            }
        }
        let query = serde_urlencoded::to_string(&query).map_err(|_| GraphError::internal())?;
        Ok(format!("{url}?{query}"))
    }
}

/// The entity set a context names: `applications/{id}/federatedIdentityCredentials` is
/// `applications('{id}')/federatedIdentityCredentials`, as Graph writes it.
fn context_of(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').collect();
    match segments.as_slice() {
        [set, id, rest @ ..] if !rest.is_empty() => format!("{set}('{id}')/{}", rest.join("/")),
        _ => path.to_owned(),
    }
}

/// The `@odata.context` of one entity of `set`.
pub fn entity_context(state: &AppState, set: &str) -> String {
    format!(
        "{}v1.0/$metadata#{}/$entity",
        state.cloud.graph_resource(),
        context_of(set)
    )
}

/// A JSON request body; a body that is not what the operation takes is Graph's 400.
pub struct GraphJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for GraphJson<T> {
    type Rejection = GraphError;

    async fn from_request(req: Request, state: &S) -> Result<Self, GraphError> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| {
                GraphError::bad_request("The request body is too large or could not be read.")
            })?;
        serde_json::from_slice(&bytes).map(GraphJson).map_err(|e| {
            GraphError::bad_request(format!("Unable to read JSON request payload: {e}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts_name_entity_sets_as_graph_does() {
        assert_eq!(context_of("users"), "users");
        assert_eq!(
            context_of("applications/A1/federatedIdentityCredentials"),
            "applications('A1')/federatedIdentityCredentials"
        );
    }

    #[test]
    fn select_keeps_the_id_and_what_was_asked() {
        let v = json!({"id": "1", "appId": "a", "displayName": "d", "@odata.type": "t"});
        assert_eq!(
            select(v.clone(), Some("APPID")),
            json!({"id": "1", "appId": "a", "@odata.type": "t"})
        );
        assert_eq!(select(v.clone(), None), v);
    }
}
