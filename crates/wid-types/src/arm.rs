//! The ARM envelope: error body and paged lists.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub details: Vec<ErrorBody>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub value: Vec<T>,
    #[serde(rename = "nextLink", skip_serializing_if = "Option::is_none", default)]
    pub next_link: Option<String>,
}

impl<T> Page<T> {
    /// A list that fits in one page: no `nextLink`.
    pub fn complete(value: Vec<T>) -> Self {
        Self {
            value,
            next_link: None,
        }
    }
}
