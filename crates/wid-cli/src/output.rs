//! Output exactly as az (knack) prints it, because users pipe `-o tsv` and `--query` into
//! scripts written for az: JSON with sorted keys and 2-space indent; TSV with dict values in
//! key order, nested lists as their length and top-level booleans lower-cased; tables as
//! `tabulate`'s "simple" format; YAML as PyYAML's block style. A null result prints nothing.

use serde_json::Value;
use std::fmt::Write as _;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutputFormat {
    #[default]
    Json,
    Jsonc,
    Tsv,
    Table,
    Yaml,
    None,
}

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("argument --query: invalid jmespath query supplied: {0}")]
    Query(String),
    #[error("unable to extract fields for table")]
    Table,
}

pub fn render(
    value: &Value,
    format: OutputFormat,
    query: Option<&str>,
) -> Result<String, OutputError> {
    let queried;
    let value = match query {
        Some(q) => {
            queried = apply_query(value, q)?;
            &queried
        }
        None => value,
    };
    if value.is_null() {
        return Ok(String::new());
    }
    Ok(match format {
        OutputFormat::Json => json(value),
        OutputFormat::Jsonc => colored_json(value),
        OutputFormat::Tsv => tsv(value),
        OutputFormat::Table => table(value)?,
        OutputFormat::Yaml => yaml(value),
        OutputFormat::None => String::new(),
    })
}

fn apply_query(value: &Value, query: &str) -> Result<Value, OutputError> {
    let expr = jmespath::compile(query).map_err(|e| OutputError::Query(e.to_string()))?;
    let data = jmespath::Variable::from_json(&value.to_string()).map_err(OutputError::Query)?;
    let result = expr
        .search(data)
        .map_err(|e| OutputError::Query(e.to_string()))?;
    serde_json::to_value(&*result).map_err(|e| OutputError::Query(e.to_string()))
}

fn json(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

fn colored_json(value: &Value) -> String {
    fn walk(v: &Value, indent: usize, out: &mut String) {
        let pad = "  ".repeat(indent);
        match v {
            Value::Object(map) if !map.is_empty() => {
                out.push_str("{\n");
                for (i, (k, child)) in map.iter().enumerate() {
                    let _ = write!(out, "{pad}  \x1b[94m{}\x1b[39m: ", Value::String(k.clone()));
                    walk(child, indent + 1, out);
                    out.push_str(if i + 1 < map.len() { ",\n" } else { "\n" });
                }
                let _ = write!(out, "{pad}}}");
            }
            Value::Array(items) if !items.is_empty() => {
                out.push_str("[\n");
                for (i, child) in items.iter().enumerate() {
                    let _ = write!(out, "{pad}  ");
                    walk(child, indent + 1, out);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                let _ = write!(out, "{pad}]");
            }
            Value::String(_) => {
                let _ = write!(out, "\x1b[33m{v}\x1b[39m");
            }
            Value::Number(_) | Value::Bool(_) | Value::Null => {
                let _ = write!(out, "\x1b[36m{v}\x1b[39m");
            }
            _ => out.push_str(&v.to_string()),
        }
    }
    let mut out = String::new();
    walk(value, 0, &mut out);
    out.push('\n');
    out
}

/// Python's `str()` of a JSON value, as knack writes nested cells.
fn python_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Null => "None".to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => items.len().to_string(),
        Value::Object(_) => String::new(),
    }
}

fn tsv(value: &Value) -> String {
    let rows: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut out = String::new();
    for row in rows {
        match row {
            Value::Object(map) => {
                out.push_str(&map.values().map(python_str).collect::<Vec<_>>().join("\t"))
            }
            Value::Array(items) => {
                out.push_str(&items.iter().map(python_str).collect::<Vec<_>>().join("\t"))
            }
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            other => out.push_str(&python_str(other)),
        }
        out.push('\n');
    }
    out
}

const TABLE_SKIP: [&str; 3] = ["id", "type", "etag"];

fn table_row(item: &Value) -> Vec<(String, String)> {
    let capitalize = |k: &str| {
        let mut c = k.chars();
        c.next()
            .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
            .unwrap_or_default()
    };
    match item {
        Value::Object(map) => map
            .iter()
            .filter(|(k, v)| {
                !TABLE_SKIP.contains(&k.as_str())
                    && !matches!(v, Value::Null | Value::Array(_) | Value::Object(_))
            })
            .map(|(k, v)| (capitalize(k), python_str(v)))
            .collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("Column{}", i + 1), python_str(v)))
            .collect(),
        other => vec![("Result".to_owned(), python_str(other))],
    }
}

fn table(value: &Value) -> Result<String, OutputError> {
    let rows: Vec<Vec<(String, String)>> = match value {
        Value::Array(items) => items.iter().map(table_row).collect(),
        other => vec![table_row(other)],
    };
    let mut headers: Vec<String> = Vec::new();
    for row in &rows {
        for (k, _) in row {
            if !headers.contains(k) {
                headers.push(k.clone());
            }
        }
    }
    if headers.is_empty() {
        return if rows.is_empty() {
            Ok("\n".to_owned())
        } else {
            Err(OutputError::Table)
        };
    }
    let cell = |row: &Vec<(String, String)>, h: &str| {
        row.iter()
            .find(|(k, _)| k == h)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let widths: Vec<usize> = headers
        .iter()
        // tabulate's MIN_PADDING: a header is 2 narrower than its column.
        .map(|h| {
            rows.iter()
                .map(|r| cell(r, h).chars().count())
                .chain([h.chars().count() + 2])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<String>| {
        let joined = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ");
        joined.trim_end().to_owned()
    };
    let mut out = vec![
        line(headers.clone()),
        line(widths.iter().map(|w| "-".repeat(*w)).collect()),
    ];
    out.extend(
        rows.iter()
            .map(|r| line(headers.iter().map(|h| cell(r, h)).collect())),
    );
    Ok(out.join("\n") + "\n")
}

/// Whether a YAML plain scalar would read back as something other than this string.
fn needs_quotes(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    s.is_empty()
        || matches!(
            lower.as_str(),
            "null" | "~" | "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n"
        )
        || s.parse::<f64>().is_ok()
        || s.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@`".contains(c) || c.is_whitespace())
        || s.ends_with(|c: char| c == ':' || c.is_whitespace())
        || s.contains(": ")
        || s.contains(" #")
        || s.contains(['\n', '\t', '\r'])
        || looks_like_date(s)
}

/// YAML 1.1 reads `2026-11-24…` as a timestamp, so PyYAML quotes such strings.
fn looks_like_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
}

fn yaml_scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        Value::String(s) if s.contains(['\n', '\t', '\r']) => Value::String(s.clone()).to_string(),
        Value::String(s) if needs_quotes(s) => format!("'{}'", s.replace('\'', "''")),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn yaml(value: &Value) -> String {
    fn block(v: &Value, indent: usize, out: &mut String) {
        let pad = " ".repeat(indent);
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    let key = yaml_scalar(&Value::String(k.clone()));
                    match child {
                        Value::Object(m) if !m.is_empty() => {
                            let _ = writeln!(out, "{pad}{key}:");
                            block(child, indent + 2, out);
                        }
                        Value::Array(a) if !a.is_empty() => {
                            let _ = writeln!(out, "{pad}{key}:");
                            block(child, indent, out);
                        }
                        _ => {
                            let _ = writeln!(out, "{pad}{key}: {}", inline(child));
                        }
                    }
                }
            }
            Value::Array(items) => {
                for child in items {
                    match child {
                        Value::Object(m) if !m.is_empty() => {
                            let mut nested = String::new();
                            block(child, indent + 2, &mut nested);
                            let _ = write!(out, "{pad}- {}", &nested[indent + 2..]);
                        }
                        Value::Array(a) if !a.is_empty() => {
                            let mut nested = String::new();
                            block(child, indent + 2, &mut nested);
                            let _ = write!(out, "{pad}- {}", &nested[indent + 2..]);
                        }
                        _ => {
                            let _ = writeln!(out, "{pad}- {}", inline(child));
                        }
                    }
                }
            }
            scalar => {
                let _ = writeln!(out, "{pad}{}", inline(scalar));
            }
        }
    }
    fn inline(v: &Value) -> String {
        match v {
            Value::Object(_) => "{}".to_owned(),
            Value::Array(_) => "[]".to_owned(),
            other => yaml_scalar(other),
        }
    }
    let mut out = String::new();
    match value {
        Value::Object(m) if !m.is_empty() => block(value, 0, &mut out),
        Value::Array(a) if !a.is_empty() => block(value, 0, &mut out),
        scalar @ (Value::String(_) | Value::Number(_) | Value::Bool(_)) => {
            let _ = writeln!(out, "{}\n...", inline(scalar));
        }
        other => {
            let _ = writeln!(out, "{}", inline(other));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn identity(name: &str) -> Value {
        json!({"clientId": format!("c-{name}"), "id": format!("/subscriptions/s/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"),
               "location": "eastus", "name": name, "principalId": "p1", "resourceGroup": "rg", "systemData": null, "tags": {}, "tenantId": "t1",
               "type": "Microsoft.ManagedIdentity/userAssignedIdentities"})
    }

    #[test]
    fn json_is_sorted_and_indented() {
        let text = render(
            &json!({"b": 1, "a": [true, null], "é": "ü"}),
            OutputFormat::Json,
            None,
        )
        .unwrap();
        assert_eq!(
            text,
            "{\n  \"a\": [\n    true,\n    null\n  ],\n  \"b\": 1,\n  \"é\": \"ü\"\n}\n"
        );
    }

    #[test]
    fn query_then_tsv_prints_bare_values() {
        assert_eq!(
            render(&identity("id1"), OutputFormat::Tsv, Some("clientId")).unwrap(),
            "c-id1\n"
        );
        let list = json!([identity("a1"), identity("b1")]);
        assert_eq!(
            render(&list, OutputFormat::Tsv, Some("[].name")).unwrap(),
            "a1\nb1\n"
        );
        assert_eq!(
            render(&identity("id1"), OutputFormat::Tsv, Some("missing")).unwrap(),
            ""
        );
        assert!(matches!(
            render(&identity("id1"), OutputFormat::Json, Some("[?")),
            Err(OutputError::Query(_))
        ));
    }

    #[test]
    fn tsv_follows_knack() {
        assert_eq!(
            render(&json!(true), OutputFormat::Tsv, None).unwrap(),
            "true\n"
        );
        assert_eq!(
            render(
                &json!({"b": true, "a": null, "c": [1, 2], "d": {"x": 1}, "e": 3}),
                OutputFormat::Tsv,
                None
            )
            .unwrap(),
            "None\tTrue\t2\t\t3\n"
        );
        let row = render(&identity("id1"), OutputFormat::Tsv, None).unwrap();
        assert_eq!(row.split('\t').count(), 10);
        assert!(row.starts_with("c-id1\t/subscriptions/"));
    }

    #[test]
    fn table_follows_tabulate_simple() {
        let list = json!([{"name": "id1", "location": "eastus", "ok": true, "id": "x", "tags": {}}, {"name": "longer-name", "location": "w", "ok": false}]);
        assert_eq!(
            render(&list, OutputFormat::Table, None).unwrap(),
            "Location    Name         Ok\n----------  -----------  -----\neastus      id1          True\nw           longer-name  False\n"
        );
    }

    #[test]
    fn yaml_block_style() {
        let v = json!({"b": [1, {"x": "y: z", "e": ""}], "a": null, "c": "123", "d": true, "u": "é", "m": "multi\nline", "t": "2026-11-24T13:24:21Z"});
        assert_eq!(
            render(&v, OutputFormat::Yaml, None).unwrap(),
            "a: null\nb:\n- 1\n- e: ''\n  x: 'y: z'\nc: '123'\nd: true\nm: \"multi\\nline\"\nt: '2026-11-24T13:24:21Z'\nu: é\n"
        );
        assert_eq!(
            render(&json!("scalar"), OutputFormat::Yaml, None).unwrap(),
            "scalar\n...\n"
        );
    }

    #[test]
    fn none_and_null_print_nothing() {
        assert_eq!(
            render(&identity("id1"), OutputFormat::None, None).unwrap(),
            ""
        );
        assert_eq!(render(&Value::Null, OutputFormat::Json, None).unwrap(), "");
    }
}
