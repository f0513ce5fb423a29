//! The JSON az accepts on its command line: strict JSON, and failing that a Python literal
//! (az falls back to `ast.literal_eval`), because Microsoft's own docs pass bodies such as
//! `{'properties':{'issuer':'…','audiences':['api://AzureADTokenExchange']}}`.

use serde_json::{Map, Number, Value};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("Failed to parse string as JSON: {message} (at character {position})")]
pub struct RelaxedJsonError {
    pub message: String,
    pub position: usize,
}

pub fn parse(text: &str) -> Result<Value, RelaxedJsonError> {
    if let Ok(v) = serde_json::from_str(text) {
        return Ok(v);
    }
    let mut p = Parser {
        chars: text.chars().collect(),
        pos: 0,
    };
    let value = p.value()?;
    p.skip_ws();
    if p.pos < p.chars.len() {
        return Err(p.error("unexpected trailing characters"));
    }
    Ok(value)
}

/// az's `@file` convention: the file's content when the argument starts with `@`.
pub fn read_arg(value: &str) -> std::io::Result<String> {
    match value.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path),
        None => Ok(value.to_owned()),
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn error(&self, message: &str) -> RelaxedJsonError {
        RelaxedJsonError {
            message: message.to_owned(),
            position: self.pos,
        }
    }

    fn skip_ws(&mut self) {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_ws();
        self.chars.get(self.pos).copied()
    }

    fn expect(&mut self, c: char) -> Result<(), RelaxedJsonError> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected '{c}'")))
        }
    }

    fn value(&mut self) -> Result<Value, RelaxedJsonError> {
        match self.peek() {
            Some('{') => self.object(),
            Some('[') => self.sequence(']'),
            Some('(') => self.sequence(')'),
            Some(q @ ('\'' | '"')) => self.string(q).map(Value::String),
            Some(c) if c.is_ascii_digit() || c == '-' || c == '+' || c == '.' => self.number(),
            Some(c) if c.is_ascii_alphabetic() => self.word(),
            Some(_) => Err(self.error("unexpected character")),
            None => Err(self.error("unexpected end of input")),
        }
    }

    fn object(&mut self) -> Result<Value, RelaxedJsonError> {
        self.expect('{')?;
        let mut map = Map::new();
        loop {
            if self.peek() == Some('}') {
                self.pos += 1;
                return Ok(Value::Object(map));
            }
            let key = match self.peek() {
                Some(q @ ('\'' | '"')) => self.string(q)?,
                _ => return Err(self.error("dictionary keys must be strings")),
            };
            self.expect(':')?;
            let value = self.value()?;
            map.insert(key, value);
            match self.peek() {
                Some(',') => self.pos += 1,
                Some('}') => {}
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    fn sequence(&mut self, close: char) -> Result<Value, RelaxedJsonError> {
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            if self.peek() == Some(close) {
                self.pos += 1;
                return Ok(Value::Array(items));
            }
            items.push(self.value()?);
            match self.peek() {
                Some(',') => self.pos += 1,
                Some(c) if c == close => {}
                _ => return Err(self.error(&format!("expected ',' or '{close}'"))),
            }
        }
    }

    fn string(&mut self, quote: char) -> Result<String, RelaxedJsonError> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let c = *self
                .chars
                .get(self.pos)
                .ok_or_else(|| self.error("unterminated string"))?;
            self.pos += 1;
            match c {
                c if c == quote => return Ok(out),
                '\\' => {
                    let e = *self
                        .chars
                        .get(self.pos)
                        .ok_or_else(|| self.error("unterminated escape"))?;
                    self.pos += 1;
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        '0' => out.push('\0'),
                        'u' => {
                            let hex: String = self.chars.iter().skip(self.pos).take(4).collect();
                            let code = u32::from_str_radix(&hex, 16)
                                .map_err(|_| self.error("bad \\u escape"))?;
                            out.push(
                                char::from_u32(code).ok_or_else(|| self.error("bad \\u escape"))?,
                            );
                            self.pos += 4;
                        }
                        '\\' | '\'' | '"' | '/' => out.push(e),
                        other => {
                            out.push('\\');
                            out.push(other);
                        }
                    }
                }
                c => out.push(c),
            }
        }
    }

    fn number(&mut self) -> Result<Value, RelaxedJsonError> {
        let start = self.pos;
        while self
            .chars
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.' | '_'))
        {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos]
            .iter()
            .filter(|c| **c != '_')
            .collect();
        if let Ok(i) = text.parse::<i64>() {
            return Ok(Value::Number(i.into()));
        }
        text.parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| RelaxedJsonError {
                message: format!("invalid number '{text}'"),
                position: start,
            })
    }

    fn word(&mut self) -> Result<Value, RelaxedJsonError> {
        let start = self.pos;
        while self
            .chars
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
        {
            self.pos += 1;
        }
        let word: String = self.chars[start..self.pos].iter().collect();
        match word.as_str() {
            "True" | "true" => Ok(Value::Bool(true)),
            "False" | "false" => Ok(Value::Bool(false)),
            "None" | "null" => Ok(Value::Null),
            _ => Err(RelaxedJsonError {
                message: format!("unknown name '{word}'"),
                position: start,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn seed_document_body() {
        let body = "{'properties':{'issuer':'https://oidc.example/t/c/','subject':'system:serviceaccount:default:workload-identity-sa','audiences':['api://AzureADTokenExchange'] }}";
        assert_eq!(
            parse(body).unwrap(),
            json!({"properties": {"issuer": "https://oidc.example/t/c/", "subject": "system:serviceaccount:default:workload-identity-sa", "audiences": ["api://AzureADTokenExchange"]}})
        );
    }

    #[test]
    fn python_literals() {
        assert_eq!(
            parse("{'a': True, 'b': None, 'c': (1, 2.5, -3,), \"d\": 'it\\'s'}").unwrap(),
            json!({"a": true, "b": null, "c": [1, 2.5, -3], "d": "it's"})
        );
        assert_eq!(parse("['é', '\\u00e9\\n']").unwrap(), json!(["é", "é\n"]));
        assert_eq!(
            parse(r#"{"strict": [1, {"x": "y"}]}"#).unwrap(),
            json!({"strict": [1, {"x": "y"}]})
        );
    }

    #[test]
    fn errors_say_where() {
        for bad in [
            "{'a': }",
            "{'a' 1}",
            "['x'",
            "{1: 2}",
            "{'a': undefined}",
            "'unterminated",
            "{'a': 1} extra",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("Failed to parse string as JSON"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn at_file() {
        let path = std::env::temp_dir().join(format!("wid-relaxed-{}.json", std::process::id()));
        std::fs::write(&path, "{'a': 1}").unwrap();
        assert_eq!(
            read_arg(&format!("@{}", path.display())).unwrap(),
            "{'a': 1}"
        );
        assert_eq!(read_arg("{}").unwrap(), "{}");
        std::fs::remove_file(path).unwrap();
    }
}
