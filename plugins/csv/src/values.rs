//! Field text to typed values, and the type a sampled value suggests
//! (inference).
//!
//! Numbers, booleans, dates and timestamps may have spaces (and tabs)
//! around them; strings are kept exactly. Dates and date-times are
//! proleptic Gregorian; a date-time without an offset is taken as UTC.

/// Trims ASCII spaces and tabs at both ends.
fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|c| *c != b' ' && *c != b'\t').unwrap_or(s.len());
    let end = s.iter().rposition(|c| *c != b' ' && *c != b'\t').map_or(start, |e| e + 1);
    &s[start..end]
}

pub fn parse_int(s: &[u8]) -> Option<i64> {
    let s = trim(s);
    // `i64::from_str` takes `+5` and `-5`, digits only otherwise.
    std::str::from_utf8(s).ok()?.parse().ok()
}

pub fn parse_float(s: &[u8]) -> Option<f64> {
    let s = trim(s);
    std::str::from_utf8(s).ok()?.parse().ok()
}

pub fn parse_bool(s: &[u8]) -> Option<bool> {
    let s = trim(s);
    if s.eq_ignore_ascii_case(b"true") || s.eq_ignore_ascii_case(b"t") || s == b"1" {
        Some(true)
    } else if s.eq_ignore_ascii_case(b"false") || s.eq_ignore_ascii_case(b"f") || s == b"0" {
        Some(false)
    } else {
        None
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil` algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn number(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u32, |v, c| v * 10 + (c - b'0') as u32))
}

fn leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// `YYYY-MM-DD` at the start of `s`: days since the epoch.
fn date_part(s: &[u8]) -> Option<i64> {
    if s.len() < 10 || s[4] != b'-' || s[7] != b'-' {
        return None;
    }
    let y = number(&s[0..4])? as i64;
    let m = number(&s[5..7])?;
    let d = number(&s[8..10])?;
    let days_in_month = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap(y) => 29,
        2 => 28,
        _ => return None,
    };
    if d == 0 || d > days_in_month {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// What a date or date-time text holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// `YYYY-MM-DD` alone: days since the epoch.
    Date(i64),
    /// A date-time: microseconds since the epoch, UTC.
    Micros(i64),
}

/// Parses `YYYY-MM-DD` or `YYYY-MM-DD(T| )HH:MM[:SS[.f+]][Z|±HH[:MM]]`.
pub fn parse_moment(s: &[u8]) -> Option<Moment> {
    let b = trim(s);
    let days = date_part(b)?;
    if b.len() == 10 {
        return Some(Moment::Date(days));
    }
    if b.len() < 16 || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' {
        return None;
    }
    let (h, mi) = (number(&b[11..13])?, number(&b[14..16])?);
    let mut rest = &b[16..];
    let mut se = 0;
    if let Some(r) = rest.strip_prefix(b":") {
        if r.len() < 2 {
            return None;
        }
        se = number(&r[..2])?;
        rest = &r[2..];
    }
    if h > 23 || mi > 59 || se > 60 {
        return None;
    }
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
        b"" | b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), zone @ ..] => {
            let (oh, om) = match zone {
                [h1, h2] => (number(&[*h1, *h2])?, 0),
                [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => (number(&[*h1, *h2])?, number(&[*m1, *m2])?),
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let o = (oh * 3600 + om * 60) as i64;
            if *sign == b'+' { o } else { -o }
        }
        _ => return None,
    };
    let secs = days * 86_400 + (h as i64) * 3600 + (mi as i64) * 60 + se as i64 - offset_secs;
    Some(Moment::Micros(secs.checked_mul(1_000_000)?.checked_add(micros)?))
}

/// A date or date-time as a UTC calendar date (days since the epoch).
pub fn parse_date(s: &[u8]) -> Option<i32> {
    match parse_moment(s)? {
        Moment::Date(d) => i32::try_from(d).ok(),
        Moment::Micros(us) => i32::try_from(us.div_euclid(86_400_000_000)).ok(),
    }
}

/// A date (midnight UTC) or date-time as microseconds since the epoch, UTC.
pub fn parse_timestamp(s: &[u8]) -> Option<i64> {
    match parse_moment(s)? {
        Moment::Date(d) => d.checked_mul(86_400_000_000),
        Moment::Micros(us) => Some(us),
    }
}

/// The narrowest type a sampled value fits, for inference. Ordered so that
/// [`Guess::join`] widens: int64 → float64, date → timestamp; any other
/// mix is utf8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Guess {
    /// Only nulls seen so far.
    Nothing,
    Int64,
    Float64,
    Boolean,
    Date,
    Timestamp,
    Utf8,
}

impl Guess {
    /// What one non-null value suggests. Inference is stricter than reading
    /// a declared type: `1`/`0` are integers, `inf`/`nan` are text.
    pub fn of(s: &[u8]) -> Guess {
        let t = trim(s);
        if t.is_empty() {
            return Guess::Utf8;
        }
        if parse_int(t).is_some() {
            return Guess::Int64;
        }
        if looks_decimal(t) && parse_float(t).is_some() {
            return Guess::Float64;
        }
        if t.eq_ignore_ascii_case(b"true") || t.eq_ignore_ascii_case(b"false") {
            return Guess::Boolean;
        }
        match parse_moment(t) {
            Some(Moment::Date(_)) => Guess::Date,
            Some(Moment::Micros(_)) => Guess::Timestamp,
            None => Guess::Utf8,
        }
    }

    /// The narrowest type both fit.
    pub fn join(self, other: Guess) -> Guess {
        use Guess::*;
        match (self.min(other), self.max(other)) {
            (Nothing, g) => g,
            (a, b) if a == b => a,
            (Int64, Float64) => Float64,
            (Date, Timestamp) => Timestamp,
            _ => Utf8,
        }
    }
}

/// `[+-]digits[.digits][(e|E)[+-]digits]` (or `.digits`): no `inf`, `nan`.
fn looks_decimal(s: &[u8]) -> bool {
    let s = s.strip_prefix(b"+").or_else(|| s.strip_prefix(b"-")).unwrap_or(s);
    let int = s.iter().take_while(|c| c.is_ascii_digit()).count();
    let mut rest = &s[int..];
    let mut frac = 0;
    if let Some(r) = rest.strip_prefix(b".") {
        frac = r.iter().take_while(|c| c.is_ascii_digit()).count();
        rest = &r[frac..];
    }
    if int + frac == 0 {
        return false;
    }
    if let Some(r) = rest.strip_prefix(b"e").or_else(|| rest.strip_prefix(b"E")) {
        let r = r.strip_prefix(b"+").or_else(|| r.strip_prefix(b"-")).unwrap_or(r);
        return !r.is_empty() && r.iter().all(u8::is_ascii_digit);
    }
    rest.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_booleans() {
        assert_eq!(parse_int(b" -42 "), Some(-42));
        assert_eq!(parse_int(b"+7"), Some(7));
        assert_eq!(parse_int(b"1.0"), None);
        assert_eq!(parse_int(b"9223372036854775808"), None);
        assert_eq!(parse_float(b"1e3"), Some(1000.0));
        assert!(parse_float(b"nan").unwrap().is_nan());
        assert_eq!(parse_bool(b"TRUE"), Some(true));
        assert_eq!(parse_bool(b"0"), Some(false));
        assert_eq!(parse_bool(b"yes"), None);
    }

    #[test]
    fn moments() {
        assert_eq!(parse_date(b"2024-03-01"), Some(19_783));
        assert_eq!(parse_date(b"2024-02-30"), None);
        assert_eq!(parse_date(b"2024-03-01 23:30:00-01:00"), Some(19_784));
        assert_eq!(parse_timestamp(b"1970-01-01 00:00:01"), Some(1_000_000));
        assert_eq!(parse_timestamp(b"1970-01-01T00:00:00.25Z"), Some(250_000));
        assert_eq!(parse_timestamp(b"1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_timestamp(b"1970-01-01T01:00:00+0100"), Some(0));
        assert_eq!(parse_timestamp(b"1970-01-01T01:00+01"), Some(0));
        assert_eq!(parse_timestamp(b"1969-12-31 23:59:59.999999"), Some(-1));
        assert_eq!(parse_timestamp(b"1970-01-01T00:00:00."), None);
        assert_eq!(parse_timestamp(b"1970-01-01 25:00:00"), None);
        assert_eq!(parse_timestamp(b"1970-01-01"), Some(0));
    }

    #[test]
    fn guesses_widen() {
        use Guess::*;
        let g = |s: &str| Guess::of(s.as_bytes());
        assert_eq!(g("12"), Int64);
        assert_eq!(g("1.5"), Float64);
        assert_eq!(g("-1e-3"), Float64);
        assert_eq!(g("inf"), Utf8);
        assert_eq!(g("True"), Boolean);
        assert_eq!(g("2024-01-02"), Date);
        assert_eq!(g("2024-01-02 03:04:05"), Timestamp);
        assert_eq!(g("x"), Utf8);
        assert_eq!(Int64.join(Float64), Float64);
        assert_eq!(Nothing.join(Boolean), Boolean);
        assert_eq!(Date.join(Timestamp), Timestamp);
        assert_eq!(Int64.join(Boolean), Utf8);
        assert_eq!(Float64.join(Date), Utf8);
        assert_eq!(Utf8.join(Nothing), Utf8);
    }
}
