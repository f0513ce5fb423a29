//! `POST /directoryObjects/getByIds`: what `az role assignment list` resolves principal
//! names with, and `--assignee OBJECT_ID` checks an object id by.

use super::error::GraphError;
use super::odata::GraphJson;
use super::render;
use super::Authorized;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

/// Graph takes at most this many ids per request.
const MAX_IDS: usize = 1000;

#[derive(Deserialize)]
pub struct ByIds {
    ids: Vec<String>,
    #[serde(default)]
    types: Vec<String>,
}

pub async fn get_by_ids(
    State(state): State<AppState>,
    auth: Authorized,
    GraphJson(body): GraphJson<ByIds>,
) -> Result<Json<Value>, GraphError> {
    if body.ids.len() > MAX_IDS {
        return Err(GraphError::bad_request(format!(
            "Too many ids: at most {MAX_IDS} may be requested at once."
        )));
    }
    // `types` are bare names (`user`, `servicePrincipal`) or `#microsoft.graph.` ones.
    let wanted = |odata_type: &str| {
        body.types.is_empty()
            || body.types.iter().any(|t| {
                let bare = odata_type.trim_start_matches("#microsoft.graph.");
                t.trim_start_matches("#microsoft.graph.")
                    .trim_start_matches("microsoft.graph.")
                    .eq_ignore_ascii_case(bare)
            })
    };
    let mut value = Vec::new();
    for id in &body.ids {
        if let Some((odata_type, mut object)) =
            render::directory_object(&state, &auth.caller.tenant_id, id).await?
        {
            if wanted(odata_type) {
                object["@odata.type"] = json!(odata_type);
                value.push(object);
            }
        }
    }
    Ok(Json(json!({
        "@odata.context": format!("{}v1.0/$metadata#directoryObjects", state.cloud.graph_resource()),
        "value": value,
    })))
}
