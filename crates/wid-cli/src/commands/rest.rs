//! `wid rest` (az rest): any management request, authenticated as the signed-in principal.

use crate::context::Context;
use anyhow::{Context as _, Result};
use clap::Args;
use serde_json::Value;
use wid_cli::relaxed_json;
use wid_client::Method;

#[derive(Args)]
pub struct RestArgs {
    /// HTTP method.
    #[arg(short = 'm', long, default_value = "get")]
    method: String,
    /// Request URL; a path is sent to the management endpoint. `{subscriptionId}` is replaced.
    #[arg(short = 'u', long, visible_alias = "uri")]
    url: String,
    /// Request body: JSON, a Python-style literal as az accepts, or @file.
    #[arg(short = 'b', long)]
    body: Option<String>,
    /// Space-separated headers, KEY=VALUE, or a JSON object.
    #[arg(long, num_args = 0..)]
    headers: Vec<String>,
    /// Extra query parameters, KEY=VALUE.
    #[arg(long, num_args = 0..)]
    uri_parameters: Vec<String>,
    /// Write the response body to this file instead of printing it.
    #[arg(long)]
    output_file: Option<std::path::PathBuf>,
}

fn parse_headers(headers: &[String]) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for h in headers {
        if h.trim_start().starts_with('{') {
            let map = relaxed_json::parse(h)?;
            if let Value::Object(map) = map {
                out.extend(map.into_iter().map(|(k, v)| {
                    (
                        k,
                        v.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| v.to_string()),
                    )
                }));
            }
        } else if let Some((k, v)) = h.split_once('=') {
            out.push((k.to_owned(), v.to_owned()));
        } else {
            anyhow::bail!("usage error: --headers KEY=VALUE [KEY=VALUE ...]");
        }
    }
    Ok(out)
}

pub async fn run(args: RestArgs, ctx: &Context) -> Result<Option<Value>> {
    let method = Method::from_bytes(args.method.to_ascii_uppercase().as_bytes())
        .with_context(|| format!("invalid --method {}", args.method))?;
    let sub = ctx.subscription(None)?;
    let mut url = args.url.replace("{subscriptionId}", &sub);
    for p in &args.uri_parameters {
        let sep = if url.contains('?') { '&' } else { '?' };
        url = format!("{url}{sep}{p}");
    }
    let body = match &args.body {
        Some(b) => Some(relaxed_json::parse(&relaxed_json::read_arg(b)?)?),
        None => None,
    };
    let headers = parse_headers(&args.headers)?;
    let response = ctx
        .arm_with_headers(method, &url, body.as_ref(), &headers)
        .await?;
    if let Some(file) = args.output_file {
        let text = response.body.map(|b| b.to_string()).unwrap_or_default();
        std::fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
        return Ok(None);
    }
    Ok(response.body)
}
