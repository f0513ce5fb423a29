//! ARM's `$filter` on resource listings (`GET …/resources`), the OData subset the
//! Resources API documents and clients send: `resourceType eq '…'` (azure-mgmt-keyvault's
//! `vaults.list`, Terraform's vault cache), `… and name eq '…'` (`az keyvault show` without
//! a group), `tagName eq '…' and tagValue eq '…'`, `substringof('…', name)` and
//! `startswith(tagName, '…')`, joined with `and` / `or` (`and` binds tighter).
//!
//! Anything else is refused rather than ignored: answering an unfiltered list to a filter
//! wid did not understand hands clients resources they did not ask for.

use crate::model::Tags;
use thiserror::Error;

/// The refusal ARM answers with `400 InvalidFilterInQueryString`.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("Invalid $filter '{filter}' specified in the query string. {reason}")]
pub struct FilterError {
    pub filter: String,
    pub reason: String,
}

/// A property `eq` / `ne` compares, case-insensitively as ARM does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Property {
    ResourceType,
    Name,
    Location,
    ResourceGroup,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    Compare {
        property: Property,
        equal: bool,
        value: String,
    },
    /// `substringof(value, name | resourceGroup)`.
    Contains { property: Property, value: String },
    /// `tagName eq 'n'`, with `and tagValue eq 'v'` when it follows.
    Tag { name: String, value: Option<String> },
    /// `startswith(tagName, 'p')`.
    TagNamePrefix(String),
}

/// A parsed filter: any of its conjunctions matching lets a resource through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceFilter {
    pub any_of: Vec<Vec<Condition>>,
}

/// What a filter looks at in one listed resource.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub resource_type: &'a str,
    pub name: &'a str,
    pub location: &'a str,
    pub resource_group: &'a str,
    pub tags: &'a Tags,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Text(String),
    Open,
    Close,
    Comma,
}

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | ',' => {
                chars.next();
                out.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    _ => Token::Comma,
                });
            }
            '\'' => {
                chars.next();
                let mut value = String::new();
                loop {
                    match chars.next() {
                        None => return Err("A quoted value is not closed.".to_owned()),
                        Some('\'') if chars.peek() == Some(&'\'') => {
                            chars.next();
                            value.push('\'');
                        }
                        Some('\'') => break,
                        Some(c) => value.push(c),
                    }
                }
                out.push(Token::Text(value));
            }
            c if c.is_ascii_alphanumeric() || matches!(c, '_' | '/' | '.') => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_ascii_alphanumeric() || matches!(c, '_' | '/' | '.') {
                        word.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(Token::Word(word));
            }
            other => return Err(format!("The character '{other}' is not expected.")),
        }
    }
    Ok(out)
}

/// One term before tag pairs are joined: `tagValue eq` stands alone only in this form.
enum Term {
    Condition(Condition),
    TagValue(String),
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn peek_word(&self, keyword: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w.eq_ignore_ascii_case(keyword))
    }

    fn expect(&mut self, want: Token, what: &str) -> Result<(), String> {
        match self.next() {
            Some(t) if t == want => Ok(()),
            _ => Err(format!("Expected {what}.")),
        }
    }

    fn text(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Token::Text(v)) => Ok(v),
            _ => Err("Expected a quoted value.".to_owned()),
        }
    }

    fn word(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Token::Word(w)) => Ok(w),
            Some(Token::Open) => {
                Err("Grouping with parentheses is not supported; write the conditions without them (and binds tighter than or).".to_owned())
            }
            _ => Err("Expected a property or a function.".to_owned()),
        }
    }

    fn term(&mut self) -> Result<Term, String> {
        let word = self.word()?;
        let lower = word.to_ascii_lowercase();
        match lower.as_str() {
            "substringof" => {
                self.expect(Token::Open, "'(' after substringof")?;
                let value = self.text()?;
                self.expect(Token::Comma, "',' in substringof")?;
                let property = match self.word()?.to_ascii_lowercase().as_str() {
                    "name" => Property::Name,
                    "resourcegroup" => Property::ResourceGroup,
                    other => {
                        return Err(format!(
                            "substringof applies to name and resourceGroup, not '{other}'."
                        ))
                    }
                };
                self.expect(Token::Close, "')' after substringof")?;
                Ok(Term::Condition(Condition::Contains { property, value }))
            }
            "startswith" => {
                self.expect(Token::Open, "'(' after startswith")?;
                if !self.word()?.eq_ignore_ascii_case("tagname") {
                    return Err("startswith applies to tagName only.".to_owned());
                }
                self.expect(Token::Comma, "',' in startswith")?;
                let prefix = self.text()?;
                self.expect(Token::Close, "')' after startswith")?;
                Ok(Term::Condition(Condition::TagNamePrefix(prefix)))
            }
            _ => {
                let equal = match self.word()?.to_ascii_lowercase().as_str() {
                    "eq" => true,
                    "ne" => false,
                    other => {
                        return Err(format!(
                            "The operator '{other}' is not supported; use eq or ne."
                        ))
                    }
                };
                let value = self.text()?;
                let property = match lower.as_str() {
                    "resourcetype" => Property::ResourceType,
                    "name" => Property::Name,
                    "location" => Property::Location,
                    "resourcegroup" => Property::ResourceGroup,
                    "tagname" | "tagvalue" if !equal => {
                        return Err(format!("'{word}' takes eq only."))
                    }
                    "tagname" => {
                        return Ok(Term::Condition(Condition::Tag { name: value, value: None }))
                    }
                    "tagvalue" => return Ok(Term::TagValue(value)),
                    _ => return Err(format!("Filtering on '{word}' is not supported; wid filters on resourceType, name, location, resourceGroup and tags.")),
                };
                Ok(Term::Condition(Condition::Compare {
                    property,
                    equal,
                    value,
                }))
            }
        }
    }

    /// `term (and term)*`, with each `tagValue eq` joined to the `tagName eq` before it.
    fn conjunction(&mut self) -> Result<Vec<Condition>, String> {
        let mut out: Vec<Condition> = Vec::new();
        loop {
            match self.term()? {
                Term::Condition(c) => out.push(c),
                Term::TagValue(v) => match out.last_mut() {
                    Some(Condition::Tag { value: slot @ None, .. }) => *slot = Some(v),
                    _ => {
                        return Err(
                            "tagValue must follow a tagName condition: tagName eq 'n' and tagValue eq 'v'."
                                .to_owned(),
                        )
                    }
                },
            }
            if !self.peek_word("and") {
                return Ok(out);
            }
            self.at += 1;
        }
    }
}

impl ResourceFilter {
    pub fn parse(text: &str) -> Result<Self, FilterError> {
        let invalid = |reason: String| FilterError {
            filter: text.to_owned(),
            reason,
        };
        let mut parser = Parser {
            tokens: tokens(text).map_err(invalid)?,
            at: 0,
        };
        if parser.tokens.is_empty() {
            return Err(invalid("The filter is empty.".to_owned()));
        }
        let mut any_of = vec![parser.conjunction().map_err(invalid)?];
        while parser.peek_word("or") {
            parser.at += 1;
            any_of.push(parser.conjunction().map_err(invalid)?);
        }
        if parser.at < parser.tokens.len() {
            return Err(invalid(
                "Conditions must be joined with and or or.".to_owned(),
            ));
        }
        Ok(Self { any_of })
    }

    pub fn matches(&self, c: &Candidate<'_>) -> bool {
        self.any_of
            .iter()
            .any(|all| all.iter().all(|cond| cond.holds(c)))
    }

    /// ARM leaves each resource's tags out of a listing filtered by tag.
    pub fn filters_by_tag(&self) -> bool {
        self.any_of
            .iter()
            .flatten()
            .any(|c| matches!(c, Condition::Tag { .. } | Condition::TagNamePrefix(_)))
    }
}

/// Locations compare in their short form: `East US` is `eastus`.
fn location_key(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

impl Condition {
    fn holds(&self, c: &Candidate<'_>) -> bool {
        let field = |p: Property| match p {
            Property::ResourceType => c.resource_type,
            Property::Name => c.name,
            Property::Location => c.location,
            Property::ResourceGroup => c.resource_group,
        };
        match self {
            Condition::Compare {
                property: Property::Location,
                equal,
                value,
            } => (location_key(c.location) == location_key(value)) == *equal,
            Condition::Compare {
                property,
                equal,
                value,
            } => field(*property).eq_ignore_ascii_case(value) == *equal,
            Condition::Contains { property, value } => field(*property)
                .to_ascii_lowercase()
                .contains(&value.to_ascii_lowercase()),
            // Tag names are case-insensitive in ARM, tag values are not.
            Condition::Tag { name, value } => c.tags.iter().any(|(n, v)| {
                n.eq_ignore_ascii_case(name) && value.as_ref().is_none_or(|want| want == v)
            }),
            Condition::TagNamePrefix(prefix) => c.tags.keys().any(|n| {
                n.to_ascii_lowercase()
                    .starts_with(&prefix.to_ascii_lowercase())
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Condition::*;
    use Property::*;

    fn cmp(property: Property, equal: bool, value: &str) -> Condition {
        Compare {
            property,
            equal,
            value: value.to_owned(),
        }
    }

    fn tag(name: &str, value: Option<&str>) -> Condition {
        Tag {
            name: name.to_owned(),
            value: value.map(str::to_owned),
        }
    }

    #[test]
    fn forms_clients_send_parse() {
        let cases: Vec<(&str, Vec<Vec<Condition>>)> = vec![
            (
                "resourceType eq 'Microsoft.KeyVault/vaults'",
                vec![vec![cmp(ResourceType, true, "Microsoft.KeyVault/vaults")]],
            ),
            (
                "resourceType eq 'Microsoft.KeyVault/vaults' and name eq 'kv-1'",
                vec![vec![
                    cmp(ResourceType, true, "Microsoft.KeyVault/vaults"),
                    cmp(Name, true, "kv-1"),
                ]],
            ),
            (
                "tagName eq 'env' and tagValue eq 'prod'",
                vec![vec![tag("env", Some("prod"))]],
            ),
            ("TAGNAME EQ 'env'", vec![vec![tag("env", None)]]),
            (
                "substringof('demo', name) or substringof('demo', resourceGroup)",
                vec![
                    vec![Contains {
                        property: Name,
                        value: "demo".into(),
                    }],
                    vec![Contains {
                        property: ResourceGroup,
                        value: "demo".into(),
                    }],
                ],
            ),
            (
                "startswith(tagName, 'depart')",
                vec![vec![TagNamePrefix("depart".into())]],
            ),
            (
                "location ne 'westus' and resourceGroup eq 'rg' or name eq 'it''s'",
                vec![
                    vec![
                        cmp(Location, false, "westus"),
                        cmp(ResourceGroup, true, "rg"),
                    ],
                    vec![cmp(Name, true, "it's")],
                ],
            ),
            (
                "  resourceType   eq   'a/b'  ",
                vec![vec![cmp(ResourceType, true, "a/b")]],
            ),
        ];
        for (text, any_of) in cases {
            assert_eq!(
                ResourceFilter::parse(text),
                Ok(ResourceFilter { any_of }),
                "{text}"
            );
        }
    }

    #[test]
    fn forms_wid_does_not_understand_are_refused() {
        for text in [
            "",
            "resourceType",
            "resourceType eq",
            "resourceType eq 'x",
            "resourceType gt 'x'",
            "resourceType eq x",
            "identity eq 'SystemAssigned'",
            "plan/name eq 'x'",
            "tagValue eq 'prod'",
            "tagName eq 'a' and tagValue eq 'b' and tagValue eq 'c'",
            "tagName ne 'env'",
            "(name eq 'a')",
            "name eq 'a' name eq 'b'",
            "name eq 'a' and",
            "substringof('a', location)",
            "substringof('a' name)",
            "startswith(name, 'a')",
            "$filter=resourceType eq 'x'",
            "name eq 'a'; drop",
        ] {
            let err = ResourceFilter::parse(text).expect_err(text);
            assert_eq!(err.filter, text);
            assert!(
                err.to_string().starts_with(&format!(
                    "Invalid $filter '{text}' specified in the query string."
                )),
                "{err}"
            );
        }
    }

    #[test]
    fn conditions_match_as_arm_compares() {
        let tags: Tags = [
            ("Env".to_owned(), "Prod".to_owned()),
            ("department".to_owned(), "x".to_owned()),
        ]
        .into_iter()
        .collect();
        let vault = Candidate {
            resource_type: "Microsoft.KeyVault/vaults",
            name: "Demo-Vault",
            location: "eastus",
            resource_group: "rg-One",
            tags: &tags,
        };
        let cases = [
            ("resourceType eq 'microsoft.keyvault/VAULTS'", true),
            (
                "resourceType eq 'Microsoft.ManagedIdentity/userAssignedIdentities'",
                false,
            ),
            (
                "resourceType ne 'Microsoft.ManagedIdentity/userAssignedIdentities'",
                true,
            ),
            (
                "resourceType eq 'Microsoft.KeyVault/vaults' and name eq 'demo-vault'",
                true,
            ),
            (
                "resourceType eq 'Microsoft.KeyVault/vaults' and name eq 'other'",
                false,
            ),
            ("name eq 'other' or location eq 'East US'", true),
            ("location eq 'westus'", false),
            ("resourceGroup eq 'RG-ONE'", true),
            ("substringof('MO-v', name)", true),
            (
                "substringof('one', resourceGroup) and substringof('zzz', name)",
                false,
            ),
            ("tagName eq 'env'", true),
            ("tagName eq 'env' and tagValue eq 'Prod'", true),
            ("tagName eq 'env' and tagValue eq 'prod'", false),
            ("tagName eq 'team'", false),
            ("startswith(tagName, 'DEPART')", true),
            ("startswith(tagName, 'team')", false),
        ];
        for (text, expected) in cases {
            let filter = ResourceFilter::parse(text).unwrap();
            assert_eq!(filter.matches(&vault), expected, "{text}");
        }
        assert!(ResourceFilter::parse("tagName eq 'a'")
            .unwrap()
            .filters_by_tag());
        assert!(!ResourceFilter::parse("name eq 'a'")
            .unwrap()
            .filters_by_tag());
    }
}
