//! Microsoft Graph's `$filter` on directory listings, the subset az and the Graph SDKs send:
//! `appId eq '…'`, `displayName eq '…'`, `userPrincipalName eq '…'`,
//! `startswith(displayName,'…')`, the lambda `servicePrincipalNames/any(c:c eq '…')` (also
//! over `identifierUris`), joined with `and`; and on the sign-in log, comparisons of numbers
//! and times (`status/errorCode ne 0`, `createdDateTime ge 2026-12-01T00:00:00Z`).
//!
//! Graph compares directory strings without regard to case, and so does this. Anything else
//! is refused rather than ignored: answering an unfiltered list to a filter wid did not
//! understand hands callers objects they did not ask for, and makes az's "is there already
//! one?" checks pick the wrong object.

use thiserror::Error;

/// Filters longer than this are refused before parsing (Graph's URLs are bounded too).
pub const MAX_FILTER_LEN: usize = 2048;
/// At most this many clauses joined with `and`.
pub const MAX_CLAUSES: usize = 16;

/// The refusal Graph answers with `400 Request_BadRequest`.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("Invalid filter clause: {reason}")]
pub struct GraphFilterError {
    pub reason: String,
}

fn refuse(reason: impl Into<String>) -> GraphFilterError {
    GraphFilterError {
        reason: reason.into(),
    }
}

/// Whether a property holds one string or a collection of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Single,
    Collection,
    /// A number or a time, compared with `eq`, `ne`, `gt`, `ge`, `lt` or `le` to an unquoted
    /// literal of its kind.
    Ordered,
}

/// The comparison of an [`Shape::Ordered`] property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Comparison {
    fn of(word: &str) -> Option<Self> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => Self::Eq,
            "ne" => Self::Ne,
            "gt" => Self::Gt,
            "ge" => Self::Ge,
            "lt" => Self::Lt,
            "le" => Self::Le,
            _ => return None,
        })
    }

    /// Whether `left <op> right`.
    pub fn holds(self, left: i64, right: i64) -> bool {
        match self {
            Self::Eq => left == right,
            Self::Ne => left != right,
            Self::Gt => left > right,
            Self::Ge => left >= right,
            Self::Lt => left < right,
            Self::Le => left <= right,
        }
    }
}

/// An unquoted literal: an integer, or an RFC 3339 time (as Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Literal {
    Number(i64),
    Time(i64),
}

impl Literal {
    fn parse(text: &str) -> Result<Self, GraphFilterError> {
        if let Ok(n) = text.parse::<i64>() {
            return Ok(Self::Number(n));
        }
        crate::timefmt::parse_rfc3339(text)
            .map(Self::Time)
            .ok_or_else(|| refuse(format!("'{text}' is neither a number nor a time")))
    }

    /// `text` read as a literal of this one's kind, for comparing the two.
    fn read_alike(self, text: &str) -> Option<i64> {
        match self {
            Self::Number(_) => text.parse().ok(),
            Self::Time(_) => crate::timefmt::parse_rfc3339(text),
        }
    }

    pub fn value(self) -> i64 {
        match self {
            Self::Number(n) | Self::Time(n) => n,
        }
    }
}

/// One condition; a filter is all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clause {
    /// `property eq 'value'` on a single-valued property.
    Eq { property: String, value: String },
    /// `startswith(property,'prefix')`.
    StartsWith { property: String, prefix: String },
    /// `collection/any(x:x eq 'value')`.
    AnyEq { collection: String, value: String },
    /// `property <comparison> literal` on an ordered property (`status/errorCode ne 0`).
    Compare {
        property: String,
        comparison: Comparison,
        value: Literal,
    },
}

/// A parsed filter over the properties its caller allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphFilter {
    pub all_of: Vec<Clause>,
}

/// What a filter reads of a listed object: the values of a property by its Graph name
/// (canonical casing), empty when the object has none.
pub trait Filterable {
    fn values(&self, property: &str) -> Vec<&str>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    Str(String),
    /// Unquoted, starting with a digit or `-`: a number or a time.
    Literal(String),
    Open,
    Close,
    Comma,
    Colon,
    Slash,
}

fn tokenize(text: &str) -> Result<Vec<Token>, GraphFilterError> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | ',' | ':' | '/' => {
                chars.next();
                tokens.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    ',' => Token::Comma,
                    ':' => Token::Colon,
                    _ => Token::Slash,
                });
            }
            '\'' => {
                chars.next();
                let mut value = String::new();
                loop {
                    match chars.next() {
                        // OData escapes a quote by doubling it.
                        Some('\'') if chars.peek() == Some(&'\'') => {
                            chars.next();
                            value.push('\'');
                        }
                        Some('\'') => break,
                        Some(c) => value.push(c),
                        None => return Err(refuse("an unterminated string literal")),
                    }
                }
                tokens.push(Token::Str(value));
            }
            c if c.is_ascii_digit() || c == '-' => {
                let mut literal = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_ascii_alphanumeric() || matches!(c, '-' | ':' | '.' | '+') {
                        literal.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push(Token::Literal(literal));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut ident = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        ident.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push(Token::Ident(ident));
            }
            other => return Err(refuse(format!("unexpected character '{other}'"))),
        }
    }
    Ok(tokens)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    at: usize,
    properties: &'a [(&'a str, Shape)],
}

impl Parser<'_> {
    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn expect(&mut self, want: Token, what: &str) -> Result<(), GraphFilterError> {
        match self.next() {
            Some(t) if t == want => Ok(()),
            _ => Err(refuse(format!("expected {what}"))),
        }
    }

    fn keyword(&mut self, word: &str) -> Result<(), GraphFilterError> {
        match self.next() {
            Some(Token::Ident(w)) if w.eq_ignore_ascii_case(word) => Ok(()),
            _ => Err(refuse(format!("expected '{word}'"))),
        }
    }

    fn string(&mut self) -> Result<String, GraphFilterError> {
        match self.next() {
            Some(Token::Str(s)) => Ok(s),
            _ => Err(refuse("expected a string literal")),
        }
    }

    /// A property the caller allows, by its canonical name, with its shape.
    fn property(&self, name: &str, shape: Shape) -> Result<String, GraphFilterError> {
        match self
            .properties
            .iter()
            .find(|(p, _)| p.eq_ignore_ascii_case(name))
        {
            Some((p, s)) if *s == shape => Ok((*p).to_owned()),
            Some((p, Shape::Collection)) => Err(refuse(format!(
                "'{p}' is a collection; compare its members with {p}/any(x:x eq '…')"
            ))),
            Some((p, Shape::Ordered)) => Err(refuse(format!(
                "'{p}' is compared with eq, ne, gt, ge, lt or le to an unquoted value"
            ))),
            Some((p, _)) => Err(refuse(format!("'{p}' is not a collection"))),
            None => Err(refuse(format!(
                "the property '{name}' cannot be filtered on"
            ))),
        }
    }

    fn is_ordered(&self, name: &str) -> bool {
        self.properties
            .iter()
            .any(|(p, s)| *s == Shape::Ordered && p.eq_ignore_ascii_case(name))
    }

    fn clause(&mut self) -> Result<Clause, GraphFilterError> {
        let Some(Token::Ident(first)) = self.next() else {
            return Err(refuse("expected a property or function"));
        };
        if first.eq_ignore_ascii_case("startswith")
            && self.tokens.get(self.at) == Some(&Token::Open)
        {
            self.expect(Token::Open, "'('")?;
            let Some(Token::Ident(name)) = self.next() else {
                return Err(refuse("expected a property in startswith"));
            };
            let property = self.property(&name, Shape::Single)?;
            self.expect(Token::Comma, "','")?;
            let prefix = self.string()?;
            self.expect(Token::Close, "')'")?;
            return Ok(Clause::StartsWith { property, prefix });
        }
        let lambda = matches!(
            (self.tokens.get(self.at + 1), self.tokens.get(self.at + 2)),
            (Some(Token::Ident(any)), Some(Token::Open)) if any.eq_ignore_ascii_case("any")
        );
        let first = match (self.tokens.get(self.at), self.tokens.get(self.at + 1)) {
            // A property of a complex value (`status/errorCode`).
            (Some(Token::Slash), Some(Token::Ident(member))) if !lambda => {
                let path = format!("{first}/{member}");
                self.at += 2;
                path
            }
            _ => first,
        };
        if self.is_ordered(&first) {
            let property = self.property(&first, Shape::Ordered)?;
            let comparison = match self.next() {
                Some(Token::Ident(w)) => Comparison::of(&w),
                _ => None,
            }
            .ok_or_else(|| refuse("expected eq, ne, gt, ge, lt or le"))?;
            let value = match self.next() {
                Some(Token::Literal(text)) => Literal::parse(&text)?,
                _ => {
                    return Err(refuse(format!(
                        "expected a number or a time after '{property}'"
                    )))
                }
            };
            return Ok(Clause::Compare {
                property,
                comparison,
                value,
            });
        }
        match self.tokens.get(self.at) {
            Some(Token::Slash) => {
                self.at += 1;
                let collection = self.property(&first, Shape::Collection)?;
                self.keyword("any")?;
                self.expect(Token::Open, "'('")?;
                let Some(Token::Ident(var)) = self.next() else {
                    return Err(refuse("expected a lambda variable"));
                };
                self.expect(Token::Colon, "':'")?;
                match self.next() {
                    Some(Token::Ident(v)) if v == var => {}
                    _ => return Err(refuse(format!("expected the lambda variable '{var}'"))),
                }
                self.keyword("eq")?;
                let value = self.string()?;
                self.expect(Token::Close, "')'")?;
                Ok(Clause::AnyEq { collection, value })
            }
            _ => {
                let property = self.property(&first, Shape::Single)?;
                self.keyword("eq")?;
                let value = self.string()?;
                Ok(Clause::Eq { property, value })
            }
        }
    }
}

impl GraphFilter {
    /// Parses `text` over `properties`, the filterable properties of the collection listed.
    pub fn parse(text: &str, properties: &[(&str, Shape)]) -> Result<Self, GraphFilterError> {
        if text.len() > MAX_FILTER_LEN {
            return Err(refuse(format!(
                "the filter is longer than {MAX_FILTER_LEN} characters"
            )));
        }
        let mut parser = Parser {
            tokens: tokenize(text)?,
            at: 0,
            properties,
        };
        let mut all_of = vec![parser.clause()?];
        while parser.at < parser.tokens.len() {
            parser.keyword("and")?;
            all_of.push(parser.clause()?);
            if all_of.len() > MAX_CLAUSES {
                return Err(refuse(format!("more than {MAX_CLAUSES} clauses")));
            }
        }
        Ok(Self { all_of })
    }

    pub fn matches(&self, object: &impl Filterable) -> bool {
        self.all_of.iter().all(|clause| match clause {
            Clause::Eq { property, value } => object
                .values(property)
                .iter()
                .any(|v| v.to_lowercase() == value.to_lowercase()),
            Clause::StartsWith { property, prefix } => {
                let prefix = prefix.to_lowercase();
                object
                    .values(property)
                    .iter()
                    .any(|v| v.to_lowercase().starts_with(&prefix))
            }
            Clause::AnyEq { collection, value } => object
                .values(collection)
                .iter()
                .any(|v| v.to_lowercase() == value.to_lowercase()),
            Clause::Compare {
                property,
                comparison,
                value,
            } => object.values(property).iter().any(|v| {
                value
                    .read_alike(v)
                    .is_some_and(|v| comparison.holds(v, value.value()))
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SP: &[(&str, Shape)] = &[
        ("appId", Shape::Single),
        ("displayName", Shape::Single),
        ("servicePrincipalNames", Shape::Collection),
    ];

    struct Obj(&'static [(&'static str, &'static [&'static str])]);

    impl Filterable for Obj {
        fn values(&self, property: &str) -> Vec<&str> {
            self.0
                .iter()
                .find(|(p, _)| *p == property)
                .map(|(_, v)| v.to_vec())
                .unwrap_or_default()
        }
    }

    fn eq(p: &str, v: &str) -> Clause {
        Clause::Eq {
            property: p.into(),
            value: v.into(),
        }
    }

    #[test]
    fn parses_what_az_sends() {
        let cases: &[(&str, Vec<Clause>)] = &[
            ("appId eq 'A'", vec![eq("appId", "A")]),
            ("APPID EQ 'it''s'", vec![eq("appId", "it's")]),
            (
                "servicePrincipalNames/any(c:c eq 'api://x')",
                vec![Clause::AnyEq {
                    collection: "servicePrincipalNames".into(),
                    value: "api://x".into(),
                }],
            ),
            (
                "startswith(displayName,'ab') and appId eq 'b'",
                vec![
                    Clause::StartsWith {
                        property: "displayName".into(),
                        prefix: "ab".into(),
                    },
                    eq("appId", "b"),
                ],
            ),
            (
                "  displayName eq ''  and servicePrincipalNames/any( s : s eq 'q' ) ",
                vec![
                    eq("displayName", ""),
                    Clause::AnyEq {
                        collection: "servicePrincipalNames".into(),
                        value: "q".into(),
                    },
                ],
            ),
        ];
        for (text, want) in cases {
            assert_eq!(
                GraphFilter::parse(text, SP).map(|f| f.all_of).as_ref(),
                Ok(want),
                "{text}"
            );
        }
    }

    const SIGN_INS: &[(&str, Shape)] = &[
        ("appId", Shape::Single),
        ("createdDateTime", Shape::Ordered),
        ("status/errorCode", Shape::Ordered),
        ("signInEventTypes", Shape::Collection),
    ];

    #[test]
    fn parses_comparisons_of_numbers_and_times() {
        let compare = |property: &str, comparison, value| Clause::Compare {
            property: property.into(),
            comparison,
            value,
        };
        let cases: &[(&str, Vec<Clause>)] = &[
            (
                "status/errorCode ne 0",
                vec![compare("status/errorCode", Comparison::Ne, Literal::Number(0))],
            ),
            (
                "Status/ErrorCode EQ 700213",
                vec![compare(
                    "status/errorCode",
                    Comparison::Eq,
                    Literal::Number(700213),
                )],
            ),
            (
                "createdDateTime ge 2026-12-01T00:00:00Z and createdDateTime lt 2026-12-02T00:00:00.5+01:00",
                vec![
                    compare("createdDateTime", Comparison::Ge, Literal::Time(1_796_083_200)),
                    compare(
                        "createdDateTime",
                        Comparison::Lt,
                        Literal::Time(1_796_083_200 + 86_400 - 3600),
                    ),
                ],
            ),
            (
                "appId eq 'a' and signInEventTypes/any(t: t eq 'managedIdentity') and status/errorCode gt -1",
                vec![
                    eq("appId", "a"),
                    Clause::AnyEq {
                        collection: "signInEventTypes".into(),
                        value: "managedIdentity".into(),
                    },
                    compare("status/errorCode", Comparison::Gt, Literal::Number(-1)),
                ],
            ),
        ];
        for (text, want) in cases {
            assert_eq!(
                GraphFilter::parse(text, SIGN_INS)
                    .map(|f| f.all_of)
                    .as_ref(),
                Ok(want),
                "{text}"
            );
        }
        for text in [
            "status/errorCode ne '0'",
            "status/errorCode ne",
            "status/errorCode 0",
            "status/errorCode like 0",
            "status/failureReason eq 'x'",
            "createdDateTime ge 2026-13-01T00:00:00Z",
            "createdDateTime ge yesterday",
            "appId ge 'a'",
            "appId eq 12",
            "startswith(createdDateTime,'2026')",
            "createdDateTime/any(c:c eq 'x')",
            "status/any(c:c eq 0)",
        ] {
            assert!(
                GraphFilter::parse(text, SIGN_INS).is_err(),
                "{text:?} parsed"
            );
        }
        let signed_in = Obj(&[
            ("createdDateTime", &["2026-12-01T10:00:00Z"]),
            ("status/errorCode", &["700213"]),
        ]);
        for (text, want) in [
            ("status/errorCode ne 0", true),
            ("status/errorCode eq 0", false),
            ("status/errorCode ge 700213", true),
            ("status/errorCode gt 700213", false),
            ("createdDateTime le 2026-12-01T10:00:00Z", true),
            ("createdDateTime lt 2026-12-01T10:00:00Z", false),
            (
                "createdDateTime gt 2026-12-01T09:59:59Z and status/errorCode lt 800000",
                true,
            ),
        ] {
            let f = GraphFilter::parse(text, SIGN_INS).unwrap();
            assert_eq!(f.matches(&signed_in), want, "{text}");
        }
    }

    #[test]
    fn refuses_what_it_does_not_understand() {
        for text in [
            "",
            "appId",
            "appId eq",
            "appId eq 'x",
            "appId ne 'x'",
            "appId eq 'x' or appId eq 'y'",
            "appId eq 'x' and",
            "mail eq 'x'",
            "servicePrincipalNames eq 'x'",
            "appId/any(c:c eq 'x')",
            "servicePrincipalNames/any(c:d eq 'x')",
            "servicePrincipalNames/all(c:c eq 'x')",
            "startswith(servicePrincipalNames,'x')",
            "startswith(displayName 'x')",
            "appId eq 'x')",
            "appId eq \"x\"",
            "(appId eq 'x')",
        ] {
            assert!(GraphFilter::parse(text, SP).is_err(), "{text:?} parsed");
        }
        let long = format!("appId eq '{}'", "a".repeat(MAX_FILTER_LEN));
        assert!(GraphFilter::parse(&long, SP).is_err());
        let many = vec!["appId eq 'a'"; MAX_CLAUSES + 1].join(" and ");
        assert!(GraphFilter::parse(&many, SP).is_err());
    }

    #[test]
    fn matches_without_regard_to_case() {
        let sp = Obj(&[
            ("appId", &["C0FFEE"]),
            ("displayName", &["Build Agent"]),
            ("servicePrincipalNames", &["c0ffee", "api://agent"]),
        ]);
        let cases = [
            ("appId eq 'c0ffee'", true),
            ("appId eq 'c0ffe'", false),
            ("startswith(displayName,'build')", true),
            ("startswith(displayName,'agent')", false),
            ("servicePrincipalNames/any(c:c eq 'API://AGENT')", true),
            ("servicePrincipalNames/any(c:c eq 'api://')", false),
            ("appId eq 'C0FFEE' and displayName eq 'build agent'", true),
            ("appId eq 'C0FFEE' and displayName eq 'other'", false),
        ];
        for (text, want) in cases {
            let f = GraphFilter::parse(text, SP).unwrap();
            assert_eq!(f.matches(&sp), want, "{text}");
        }
        let f = GraphFilter::parse("displayName eq ''", SP).unwrap();
        assert!(!f.matches(&Obj(&[])), "an absent property equals nothing");
    }
}
