//! ARM api-versions: what a well-formed one is, and which a resource type serves.
//!
//! ARM refuses a version its resource provider has not registered. wid follows that for
//! versions older than the newest it knows, and departs from it for newer ones: a client
//! released after wid (a new `az`, a new SDK) sends a version wid could not have listed, and
//! refusing it would break the user for no reason, since wid's shapes only ever grow. Such a
//! version is served with the newest shape wid has.

use std::cmp::Ordering;
use std::fmt;

/// A parsed `YYYY-MM-DD[-label]` version, e.g. `2022-01-31-preview`. Labels are compared
/// case-insensitively, as ARM does (`2022-01-31-PREVIEW` is the same version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiVersion {
    date: (u16, u8, u8),
    label: Option<String>,
}

impl ApiVersion {
    /// `None` unless `text` is a calendar date, optionally followed by `-` and an ASCII
    /// alphabetic label (`preview`, `privatepreview`, `beta`, `alpha`).
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() < 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return None;
        }
        let number = |range: std::ops::Range<usize>| -> Option<u16> {
            let digits = text.get(range)?;
            digits
                .bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| digits.parse().ok())?
        };
        let year = number(0..4)?;
        let month = u8::try_from(number(5..7)?).ok()?;
        let day = u8::try_from(number(8..10)?).ok()?;
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        let label = match &text[10..] {
            "" => None,
            rest => {
                let label = rest.strip_prefix('-')?;
                if label.is_empty()
                    || label.len() > 32
                    || !label.bytes().all(|b| b.is_ascii_alphabetic())
                {
                    return None;
                }
                Some(label.to_ascii_lowercase())
            }
        };
        Some(Self {
            date: (year, month, day),
            label,
        })
    }

    pub fn is_preview(&self) -> bool {
        self.label.is_some()
    }

    /// Release order: by date; on the same date a labelled (pre-release) version comes
    /// before the stable one.
    fn release_cmp(&self, other: &Self) -> Ordering {
        self.date
            .cmp(&other.date)
            .then_with(|| match (&self.label, &other.label) {
                (None, None) => Ordering::Equal,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(a), Some(b)) => a.cmp(b),
            })
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.date;
        write!(f, "{y:04}-{m:02}-{d:02}")?;
        if let Some(label) = &self.label {
            write!(f, "-{label}")?;
        }
        Ok(())
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// How a request's version is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Served {
    /// A version the resource type lists.
    Known(ApiVersion),
    /// A well-formed version released after every listed one: served with the newest shape.
    Newer(ApiVersion),
}

/// Why a version is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Not of the form `YYYY-MM-DD[-label]`.
    IllFormed,
    /// Well-formed, but neither listed nor newer than the newest listed.
    Unknown,
}

/// Decides `requested` against `known`, the versions a resource type lists (any order,
/// each well-formed; an empty list refuses everything).
pub fn resolve(known: &[&str], requested: &str) -> Result<Served, Refused> {
    let version = ApiVersion::parse(requested).ok_or(Refused::IllFormed)?;
    let listed: Vec<ApiVersion> = known.iter().filter_map(|k| ApiVersion::parse(k)).collect();
    if listed.contains(&version) {
        return Ok(Served::Known(version));
    }
    let newest = listed.iter().max_by(|a, b| a.release_cmp(b));
    match newest {
        Some(newest) if version.release_cmp(newest) == Ordering::Greater => {
            Ok(Served::Newer(version))
        }
        _ => Err(Refused::Unknown),
    }
}

/// `known` newest first, as ARM lists a resource type's `apiVersions`.
pub fn newest_first(known: &[&'static str]) -> Vec<&'static str> {
    let mut sorted: Vec<(&'static str, ApiVersion)> = known
        .iter()
        .filter_map(|k| Some((*k, ApiVersion::parse(k)?)))
        .collect();
    sorted.sort_by(|a, b| b.1.release_cmp(&a.1));
    sorted.into_iter().map(|(k, _)| k).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_versions() {
        for (text, shown) in [
            ("2024-11-30", "2024-11-30"),
            ("2022-01-31-PREVIEW", "2022-01-31-preview"),
            ("2024-02-29", "2024-02-29"),
            ("2000-02-29", "2000-02-29"),
            ("2026-08-02-privatepreview", "2026-08-02-privatepreview"),
            ("2015-06-01-Beta", "2015-06-01-beta"),
        ] {
            let v = ApiVersion::parse(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(v.to_string(), shown);
        }
        for text in [
            "",
            "latest",
            "2024-11",
            "2024-1-30",
            "2024-13-01",
            "2024-00-10",
            "2024-04-31",
            "2023-02-29",
            "1900-02-29",
            "2024-11-30-",
            "2024-11-30-preview1",
            "2024-11-30preview",
            "2024-11-30 ",
            "+024-11-30",
            "2024-11-30-pré",
            "２０２４-11-30",
        ] {
            assert_eq!(ApiVersion::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn decisions() {
        let known = [
            "2023-01-31",
            "2024-11-30",
            "2025-01-31-preview",
            "2022-01-31-preview",
        ];
        let known_v = |s: &str| Ok(Served::Known(ApiVersion::parse(s).unwrap()));
        let newer_v = |s: &str| Ok(Served::Newer(ApiVersion::parse(s).unwrap()));
        for (requested, expected) in [
            ("2024-11-30", known_v("2024-11-30")),
            ("2022-01-31-PREVIEW", known_v("2022-01-31-preview")),
            ("2025-01-31-preview", known_v("2025-01-31-preview")),
            ("2025-02-01", newer_v("2025-02-01")),
            ("2031-12-31-preview", newer_v("2031-12-31-preview")),
            // On the newest date, the stable release follows its preview.
            ("2025-01-31", newer_v("2025-01-31")),
            ("2024-11-29", Err(Refused::Unknown)),
            ("2023-01-31-preview", Err(Refused::Unknown)),
            ("2019-01-01", Err(Refused::Unknown)),
            ("2025-02-30", Err(Refused::IllFormed)),
            ("abc", Err(Refused::IllFormed)),
        ] {
            assert_eq!(resolve(&known, requested), expected, "{requested}");
        }
        assert_eq!(resolve(&[], "2024-11-30"), Err(Refused::Unknown));
    }

    #[test]
    fn listing_order_is_newest_first() {
        assert_eq!(
            newest_first(&[
                "2023-01-31",
                "2025-01-31-preview",
                "2025-01-31",
                "2018-11-30"
            ]),
            [
                "2025-01-31",
                "2025-01-31-preview",
                "2023-01-31",
                "2018-11-30"
            ]
        );
    }
}
