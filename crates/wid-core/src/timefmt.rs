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
    }
}
