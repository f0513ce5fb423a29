//! The few timestamp formats the wire contracts use, from Unix seconds, without a date crate.

/// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn parts(unix: i64) -> (i64, u32, u32, i64, i64, i64) {
    let (y, mo, d) = civil(unix.div_euclid(86_400));
    let s = unix.rem_euclid(86_400);
    (y, mo, d, s / 3600, s % 3600 / 60, s % 60)
}

/// Calendar date (year, month, day) of a Unix time, for certificate validity dates.
pub fn ymd(unix: i64) -> (i32, u8, u8) {
    let (y, m, d) = civil(unix.div_euclid(86_400));
    (y as i32, m as u8, d as u8)
}

/// `2026-11-24T10:29:00Z`, as ARM prints `systemData` times.
pub fn rfc3339(unix: i64) -> String {
    let (y, mo, d, h, mi, s) = parts(unix);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// `2026-11-24T10:29:00.123Z`, Graph's `createdDateTime` of a record kept in milliseconds.
pub fn rfc3339_millis(unix_ms: i64) -> String {
    let secs = rfc3339(unix_ms.div_euclid(1000));
    format!(
        "{}.{:03}Z",
        secs.trim_end_matches('Z'),
        unix_ms.rem_euclid(1000)
    )
}

/// `2026-11-24 10:29:00Z`, the form of Entra's error `timestamp`.
pub fn entra_timestamp(unix: i64) -> String {
    let (y, mo, d, h, mi, s) = parts(unix);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}Z")
}

/// `2026-11-24 10:29:00.000000`, the local-time-less form `az account get-access-token`
/// prints as `expiresOn` (wid prints UTC).
pub fn az_expires_on(unix: i64) -> String {
    let (y, mo, d, h, mi, s) = parts(unix);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.000000")
}

/// Days since 1970-01-01 of a civil date (the inverse of [`civil`]).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Unix seconds of an RFC 3339 time as Graph clients send them (`2026-11-24T10:29:00Z`,
/// with optional fractional seconds, `Z` or a `±hh:mm` offset); `None` for anything else.
/// Fractions are dropped: the wire contracts count whole seconds.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut rest = &text[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let ob = rest.as_bytes();
            if rest.len() != 6 || ob[3] != b':' {
                return None;
            }
            let oh: i64 = rest[1..3].parse().ok()?;
            let om: i64 = rest[4..6].parse().ok()?;
            sign * (oh * 3600 + om * 60)
        }
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    Some(days * 86_400 + h * 3600 + mi * 60 + s - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_516_140), "2026-11-24T10:29:00Z");
        assert_eq!(entra_timestamp(1_795_516_140), "2026-11-24 10:29:00Z");
        assert_eq!(az_expires_on(1_795_516_140), "2026-11-24 10:29:00.000000");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(
            rfc3339_millis(1_795_516_140_007),
            "2026-11-24T10:29:00.007Z"
        );
        assert_eq!(rfc3339_millis(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn parses_what_graph_clients_send() {
        for (text, want) in [
            ("2026-11-24T10:29:00Z", Some(1_795_516_140)),
            ("2026-11-24T10:29:00.123456Z", Some(1_795_516_140)),
            ("2026-11-24T12:29:00+02:00", Some(1_795_516_140)),
            ("2000-02-29T00:00:00Z", Some(951_782_400)),
            ("1969-12-31T23:59:59Z", Some(-1)),
            ("2026-11-24 10:29:00Z", None),
            ("2026-13-24T10:29:00Z", None),
            ("2026-11-24T10:29:00", None),
            ("2026-11-24T10:29:00.Z", None),
            ("2026-11-24T10:29:00+0200", None),
            ("+026-11-24T10:29:00Z", None),
            ("", None),
        ] {
            assert_eq!(parse_rfc3339(text), want, "{text}");
        }
        for t in [0, 951_782_400, 1_795_516_140, 4_102_444_800] {
            assert_eq!(parse_rfc3339(&rfc3339(t)), Some(t));
        }
    }
}
