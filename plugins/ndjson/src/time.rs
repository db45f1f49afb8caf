//! Dates and date-times as the `date` and `timestamp` field types read them:
//! `YYYY-MM-DD`, and RFC 3339 date-times with `Z` or a `±HH:MM` offset,
//! converted to UTC.

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn digits(s: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u32;
    }
    Some(v)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Parses `YYYY-MM-DD` at the start of `s` into days since the epoch.
fn parse_date_part(s: &[u8]) -> Option<i64> {
    if s.len() < 10 || s[4] != b'-' || s[7] != b'-' {
        return None;
    }
    let y = digits(&s[0..4])? as i64;
    let m = digits(&s[5..7])?;
    let d = digits(&s[8..10])?;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// Parses a date or RFC 3339 date-time into microseconds since the epoch, UTC.
/// A bare date is midnight UTC.
pub fn parse_micros(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let days = parse_date_part(b)?;
    if b.len() == 10 {
        return Some(days * 86_400_000_000);
    }
    if b.len() < 19 || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, mi, se) = (digits(&b[11..13])?, digits(&b[14..16])?, digits(&b[17..19])?);
    if h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &b[19..];
    let mut micros = 0i64;
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        for (i, &c) in frac[..n].iter().enumerate().take(6) {
            micros += (c - b'0') as i64 * 10i64.pow(5 - i as u32);
        }
        rest = &frac[n..];
    }
    let offset_secs: i64 = match rest {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), hh1, hh2, b':', mm1, mm2] => {
            let oh = digits(&[*hh1, *hh2])? as i64;
            let om = digits(&[*mm1, *mm2])? as i64;
            if oh > 23 || om > 59 {
                return None;
            }
            let o = oh * 3600 + om * 60;
            if *sign == b'+' { o } else { -o }
        }
        _ => return None,
    };
    let secs = days * 86_400 + (h as i64) * 3600 + (mi as i64) * 60 + se as i64 - offset_secs;
    Some(secs * 1_000_000 + micros)
}

/// Parses a date or date-time into the UTC calendar date (days since epoch).
pub fn parse_date(s: &str) -> Option<i32> {
    let b = s.as_bytes();
    // Fast path: a bare date or a UTC date-time: the date is the first 10 chars.
    if b.len() == 10 || (b.len() >= 20 && matches!(b[b.len() - 1], b'Z' | b'z')) {
        parse_micros(s)?;
        return i32::try_from(parse_date_part(b)?).ok();
    }
    let micros = parse_micros(s)?;
    i32::try_from(micros.div_euclid(86_400_000_000)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2024-03-01"), Some(19_783));
        assert_eq!(parse_date("2024-03-01T23:00:00Z"), Some(19_783));
        assert_eq!(parse_date("1969-12-31T23:59:59Z"), Some(-1));
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("2024-13-01"), None);
        assert_eq!(parse_date("2024-03-01T"), None);
        assert_eq!(parse_date("not a date"), None);
    }

    #[test]
    fn offsets_move_the_date() {
        // 23:30 at -01:00 is 00:30 UTC the next day.
        assert_eq!(parse_date("2024-03-01T23:30:00-01:00"), Some(19_784));
        assert_eq!(parse_date("2024-03-02T00:30:00+01:00"), Some(19_783));
    }

    #[test]
    fn micros() {
        assert_eq!(parse_micros("1970-01-01T00:00:01Z"), Some(1_000_000));
        assert_eq!(parse_micros("1970-01-01T00:00:00.25Z"), Some(250_000));
        assert_eq!(parse_micros("1970-01-01T00:00:00.1234567Z"), Some(123_456));
        assert_eq!(parse_micros("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_micros("1970-01-01T00:00:00"), None, "a date-time needs a zone");
        assert_eq!(parse_micros("1970-01-01T00:00:00.Z"), None);
    }
}
