//! Cell parsing on raw bytes, without allocating: the hot path of validation.

/// Powers of ten exactly representable as f64 (Clinger's fast path).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Parses a decimal number (`-12.5`, `3`, `1e-3`, ` 4 ` is rejected). Plain decimals with
/// at most 15 significant digits take an exact fast path; everything else goes through
/// the standard library. `inf`/`nan` are not numbers here: data standards treat them as
/// (invalid) missing-value codes.
pub fn parse_number(cell: &[u8]) -> Option<f64> {
    let (neg, digits) = match cell.first()? {
        b'-' => (true, &cell[1..]),
        b'+' => (false, &cell[1..]),
        _ => (false, cell),
    };
    let mut mantissa: u64 = 0;
    let mut significant = 0usize;
    let mut frac_digits = 0usize;
    let mut seen_dot = false;
    let mut seen_digit = false;
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                seen_digit = true;
                if mantissa != 0 || b != b'0' {
                    significant += 1;
                }
                if significant > 15 {
                    return slow_number(cell);
                }
                mantissa = mantissa * 10 + u64::from(b - b'0');
                if seen_dot {
                    frac_digits += 1;
                }
            }
            b'.' if !seen_dot => seen_dot = true,
            b'e' | b'E' => return slow_number(cell),
            _ => return None,
        }
    }
    if !seen_digit {
        return None;
    }
    if frac_digits > 22 {
        return slow_number(cell);
    }
    // Exact: mantissa < 2^53 and 10^frac is exact, so one IEEE division rounds correctly.
    let v = mantissa as f64 / POW10[frac_digits];
    Some(if neg { -v } else { v })
}

fn slow_number(cell: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(cell).ok()?;
    // Rust accepts "inf"/"nan"/"infinity"; only digits, signs, dots and exponents pass.
    if !s
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
    {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// An integer cell (`-3`, `42`); no decimal point, no exponent.
pub fn parse_integer(cell: &[u8]) -> Option<i64> {
    let (neg, digits) = match cell.first()? {
        b'-' => (true, &cell[1..]),
        b'+' => (false, &cell[1..]),
        _ => (false, cell),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut v: i64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(b - b'0');
    }
    Some(if neg { -v } else { v })
}

pub fn parse_boolean(cell: &[u8]) -> Option<bool> {
    match cell {
        b"true" | b"True" | b"TRUE" | b"1" => Some(true),
        b"false" | b"False" | b"FALSE" | b"0" => Some(false),
        _ => None,
    }
}

fn digits<const N: usize>(b: &[u8]) -> Option<u32> {
    if b.len() != N || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |a, &d| a * 10 + u32::from(d - b'0')))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        _ => 0,
    }
}

/// ISO 8601 date, truncatable as the ESS-DIVE CSV format allows: `YYYY`, `YYYY-MM`,
/// `YYYY-MM-DD`.
pub fn is_iso_date(cell: &[u8]) -> bool {
    let year = match cell.get(..4).and_then(digits::<4>) {
        Some(y) => y,
        None => return false,
    };
    match cell.len() {
        4 => true,
        7 => cell[4] == b'-' && digits::<2>(&cell[5..7]).is_some_and(|m| (1..=12).contains(&m)),
        10 => {
            cell[4] == b'-'
                && cell[7] == b'-'
                && match (digits::<2>(&cell[5..7]), digits::<2>(&cell[8..10])) {
                    (Some(m), Some(d)) => d >= 1 && d <= days_in_month(year, m),
                    _ => false,
                }
        }
        _ => false,
    }
}

/// ISO 8601 date-time: a date, then ` ` or `T`, `hh[:mm[:ss]]`, optional `Z`.
pub fn is_iso_datetime(cell: &[u8]) -> bool {
    if cell.len() < 13 || !is_iso_date(&cell[..10]) || !matches!(cell[10], b' ' | b'T') {
        return false;
    }
    let t = cell[11..].strip_suffix(b"Z").unwrap_or(&cell[11..]);
    let ok2 = |b: &[u8], max: u32| digits::<2>(b).is_some_and(|v| v <= max);
    match t.len() {
        2 => ok2(t, 23),
        5 => ok2(&t[..2], 23) && t[2] == b':' && ok2(&t[3..5], 59),
        8 => {
            ok2(&t[..2], 23)
                && t[2] == b':'
                && ok2(&t[3..5], 59)
                && t[5] == b':'
                && ok2(&t[6..8], 60)
        }
        _ => false,
    }
}

/// Why an AmeriFlux timestamp cell is unusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampProblem {
    /// Not 12 characters or not all digits (seconds added, scientific notation, quotes).
    Format,
    /// 12 digits that are no date (day 00, month 13, year 0000).
    Invalid,
}

/// `YYYYMMDDHHMM` to minutes since 0001-01-01 00:00 (a monotone, gap-exact scale).
/// `HHMM` = `2400` is not allowed; midnight is `0000` of the next day.
pub fn amf_timestamp(cell: &[u8]) -> Result<i64, TimestampProblem> {
    if cell.len() != 12 || !cell.iter().all(u8::is_ascii_digit) {
        return Err(TimestampProblem::Format);
    }
    let n = |r: std::ops::Range<usize>| {
        cell[r]
            .iter()
            .fold(0u32, |a, &d| a * 10 + u32::from(d - b'0'))
    };
    let (y, m, d, hh, mm) = (n(0..4), n(4..6), n(6..8), n(8..10), n(10..12));
    if y == 0 || !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) || hh > 23 || mm > 59 {
        return Err(TimestampProblem::Invalid);
    }
    Ok(i64::from(days_from_civil(y, m, d)) * 1440 + i64::from(hh * 60 + mm))
}

/// Days since 0001-01-01 in the proleptic Gregorian calendar.
fn days_from_civil(y: u32, m: u32, d: u32) -> u32 {
    let (y, m) = if m <= 2 { (y - 1, m + 12) } else { (y, m) };
    // y >= 0 here (y was >= 1); shifting the year to start in March keeps leap days last.
    365 * y + y / 4 - y / 100 + y / 400 + (153 * (m - 3) + 2) / 5 + d - 307
}

/// AmeriFlux codes that mean "missing" but are not the one accepted code: blank, NA,
/// NaN, Inf/Infinity (any sign and case), numbers like -999/-6999/-9999.0, and
/// spreadsheet errors like `#VALUE!`. The accepted code itself is checked by the caller.
pub fn is_invalid_missing(cell: &[u8]) -> bool {
    let trimmed = cell.trim_ascii();
    if trimmed.is_empty() {
        return true;
    }
    let unsigned = trimmed
        .strip_prefix(b"-")
        .or_else(|| trimmed.strip_prefix(b"+"))
        .unwrap_or(trimmed);
    for word in [&b"na"[..], b"nan", b"inf", b"infinity"] {
        if unsigned.eq_ignore_ascii_case(word) {
            return true;
        }
    }
    if let Some(rest) = trimmed.strip_prefix(b"#") {
        // ^#\w+(\?|!)$
        if let Some((last, word)) = rest.split_last() {
            return matches!(last, b'?' | b'!')
                && !word.is_empty()
                && word.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_');
        }
        return false;
    }
    // ^-(6|9){3,}(\.(0+|(6|9)+))?$
    if let Some(rest) = trimmed.strip_prefix(b"-") {
        let (int, frac) = match rest.iter().position(|&b| b == b'.') {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        let sixes_nines = |s: &[u8]| s.iter().all(|b| matches!(b, b'6' | b'9'));
        let int_ok = int.len() >= 3 && sixes_nines(int);
        let frac_ok = match frac {
            None => true,
            Some(f) => !f.is_empty() && (f.iter().all(|&b| b == b'0') || sixes_nines(f)),
        };
        return int_ok && frac_ok;
    }
    false
}

/// A Table Schema `number`: a decimal as [`parse_number`] reads it, or `NaN`, `INF`,
/// `-INF` (any case), which Table Schema counts as numbers.
pub fn parse_table_number(cell: &[u8]) -> Option<f64> {
    if let Some(v) = parse_number(cell) {
        return Some(v);
    }
    let (neg, word) = match cell.first()? {
        b'-' => (true, &cell[1..]),
        b'+' => (false, &cell[1..]),
        _ => (false, cell),
    };
    if word.eq_ignore_ascii_case(b"nan") {
        Some(f64::NAN)
    } else if word.eq_ignore_ascii_case(b"inf") {
        Some(if neg {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        })
    } else {
        None
    }
}

pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    let clean = |p: &str| !p.is_empty() && !p.chars().any(|c| c.is_whitespace() || c == '@');
    clean(local)
        && clean(domain)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
}

/// An absolute URI: `scheme:rest`, no spaces.
pub fn is_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && !s.chars().any(char::is_whitespace)
}

pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

pub fn is_base64(s: &str) -> bool {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .is_ok()
}

fn days(y: u32, m: u32, d: u32) -> Option<f64> {
    (y > 0 && (1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m))
        .then(|| f64::from(days_from_civil(y, m, d)))
}

/// `YYYY-MM-DD`, as days since 0001-01-01.
pub fn date_default(cell: &[u8]) -> Option<f64> {
    if cell.len() != 10 || cell[4] != b'-' || cell[7] != b'-' {
        return None;
    }
    days(
        digits::<4>(&cell[..4])?,
        digits::<2>(&cell[5..7])?,
        digits::<2>(&cell[8..10])?,
    )
}

/// A date in ISO 8601 (truncatable, `YYYY` and `YYYY-MM` too) or a few common forms.
pub fn date_any(cell: &[u8]) -> Option<f64> {
    if is_iso_date(cell) {
        let m = if cell.len() >= 7 {
            digits::<2>(&cell[5..7])?
        } else {
            1
        };
        let d = if cell.len() == 10 {
            digits::<2>(&cell[8..10])?
        } else {
            1
        };
        return days(digits::<4>(&cell[..4])?, m, d);
    }
    [
        "%Y/%m/%d",
        "%d/%m/%Y",
        "%m/%d/%Y",
        "%d %B %Y",
        "%B %d, %Y",
        "%d %b %Y",
    ]
    .iter()
    .find_map(|p| date_with_pattern(cell, p))
}

fn date_key(d: chrono::NaiveDate) -> Option<f64> {
    use chrono::Datelike;
    days(u32::try_from(d.year()).ok()?, d.month(), d.day())
}

pub fn date_with_pattern(cell: &[u8], pattern: &str) -> Option<f64> {
    let s = std::str::from_utf8(cell).ok()?;
    date_key(chrono::NaiveDate::parse_from_str(s, pattern).ok()?)
}

/// `hh:mm:ss` with optional fraction, as seconds.
fn clock(t: &[u8]) -> Option<(f64, &[u8])> {
    if t.len() < 8 || t[2] != b':' || t[5] != b':' {
        return None;
    }
    let (h, m, s) = (
        digits::<2>(&t[..2])?,
        digits::<2>(&t[3..5])?,
        digits::<2>(&t[6..8])?,
    );
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    let mut rest = &t[8..];
    let mut fraction = 0.0;
    if let Some(f) = rest.strip_prefix(b".") {
        let n = f.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        fraction = std::str::from_utf8(&rest[..=n]).ok()?.parse::<f64>().ok()?;
        rest = &f[n..];
    }
    Some((f64::from(h * 3600 + m * 60 + s) + fraction, rest))
}

/// `Z`, `+hh:mm`, `-hh:mm` or nothing, as seconds east of UTC.
fn zone(z: &[u8]) -> Option<f64> {
    match z {
        b"" | b"Z" => Some(0.0),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let h = digits::<2>(&[*h1, *h2])?;
            let m = digits::<2>(&[*m1, *m2])?;
            (h <= 14 && m <= 59).then(|| {
                let s = f64::from(h * 3600 + m * 60);
                if *sign == b'-' {
                    -s
                } else {
                    s
                }
            })
        }
        _ => None,
    }
}

/// `hh:mm:ss[.f][Z|±hh:mm]`, as seconds.
pub fn time_default(cell: &[u8]) -> Option<f64> {
    let (secs, rest) = clock(cell)?;
    Some(secs - zone(rest)?)
}

/// XML Schema dateTime: `YYYY-MM-DDThh:mm:ss[.f][Z|±hh:mm]`, as seconds in UTC.
pub fn datetime_default(cell: &[u8]) -> Option<f64> {
    if cell.len() < 19 || cell[10] != b'T' {
        return None;
    }
    let day = date_default(&cell[..10])?;
    let (secs, rest) = clock(&cell[11..])?;
    Some(day * 86_400.0 + secs - zone(rest)?)
}

/// A date-time in XML Schema form, or ISO 8601 with a space or truncated time.
pub fn datetime_any(cell: &[u8]) -> Option<f64> {
    if let Some(v) = datetime_default(cell) {
        return Some(v);
    }
    if is_iso_datetime(cell) {
        let day = date_default(&cell[..10])?;
        let t = cell[11..].strip_suffix(b"Z").unwrap_or(&cell[11..]);
        let part =
            |r: std::ops::Range<usize>| t.get(r).and_then(digits::<2>).map_or(0.0, f64::from);
        return Some(day * 86_400.0 + part(0..2) * 3600.0 + part(3..5) * 60.0 + part(6..8));
    }
    None
}

pub fn datetime_with_pattern(cell: &[u8], pattern: &str) -> Option<f64> {
    use chrono::Timelike;
    let s = std::str::from_utf8(cell).ok()?;
    let (naive, offset) = match chrono::DateTime::parse_from_str(s, pattern) {
        Ok(dt) => (dt.naive_local(), f64::from(dt.offset().local_minus_utc())),
        Err(_) => (chrono::NaiveDateTime::parse_from_str(s, pattern).ok()?, 0.0),
    };
    let secs = f64::from(naive.num_seconds_from_midnight());
    Some(date_key(naive.date())? * 86_400.0 + secs - offset)
}

pub fn time_with_pattern(cell: &[u8], pattern: &str) -> Option<f64> {
    use chrono::Timelike;
    let s = std::str::from_utf8(cell).ok()?;
    chrono::NaiveTime::parse_from_str(s, pattern)
        .ok()
        .map(|t| f64::from(t.num_seconds_from_midnight()))
}

/// `YYYY-MM`, as months since year 0.
pub fn yearmonth(cell: &[u8]) -> Option<f64> {
    if cell.len() != 7 || cell[4] != b'-' {
        return None;
    }
    let (y, m) = (digits::<4>(&cell[..4])?, digits::<2>(&cell[5..7])?);
    (1..=12).contains(&m).then(|| f64::from(y * 12 + m - 1))
}

/// ISO 8601 duration `PnYnMnDTnHnMnS` (or `PnW`), as approximate seconds for ordering.
pub fn duration(cell: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(cell).ok()?;
    let body = s.strip_prefix('P')?;
    if body.is_empty() {
        return None;
    }
    let (date, time) = match body.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return None,
        None => (body, None),
    };
    fn parts(text: &str, units: &[(char, f64)]) -> Option<f64> {
        let mut total = 0.0;
        let mut number = String::new();
        let mut next_unit = 0;
        for c in text.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
                continue;
            }
            let at = units[next_unit..].iter().position(|(u, _)| *u == c)? + next_unit;
            total += number.parse::<f64>().ok()? * units[at].1;
            number.clear();
            next_unit = at + 1;
        }
        number.is_empty().then_some(total)
    }
    let day = 86_400.0;
    let d = parts(
        date,
        &[
            ('Y', 365.2425 * day),
            ('M', 30.436875 * day),
            ('W', 7.0 * day),
            ('D', day),
        ],
    )?;
    let t = match time {
        Some(t) => parts(t, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)])?,
        None => 0.0,
    };
    Some(d + t)
}

/// A geographic point: `"lon, lat"` (default), `[lon, lat]` (array) or
/// `{"lon": .., "lat": ..}` (object), within the valid ranges.
pub fn geopoint(cell: &[u8], format: &str) -> bool {
    let in_range =
        |lon: f64, lat: f64| (-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat);
    match format {
        "array" | "object" => {
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(cell) else {
                return false;
            };
            let pair = match (&v, format) {
                (serde_json::Value::Array(a), "array") if a.len() == 2 => {
                    (a[0].as_f64(), a[1].as_f64())
                }
                (serde_json::Value::Object(o), "object") => (
                    o.get("lon").and_then(|x| x.as_f64()),
                    o.get("lat").and_then(|x| x.as_f64()),
                ),
                _ => return false,
            };
            matches!(pair, (Some(lon), Some(lat)) if in_range(lon, lat))
        }
        _ => {
            let Some(comma) = cell.iter().position(|b| *b == b',') else {
                return false;
            };
            let lon = parse_number(cell[..comma].trim_ascii());
            let lat = parse_number(cell[comma + 1..].trim_ascii());
            matches!((lon, lat), (Some(lon), Some(lat)) if in_range(lon, lat))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_number(b"-9999"), Some(-9999.0));
        assert_eq!(parse_number(b"0.937935124194272"), Some(0.937935124194272));
        assert_eq!(parse_number(b"1.5e3"), Some(1500.0));
        assert_eq!(parse_number(b"2.00001E+11"), Some(2.00001e11));
        assert_eq!(parse_number(b".5"), Some(0.5));
        assert_eq!(parse_number(b"0.1"), Some(0.1));
        assert_eq!(
            parse_number(b"12345678901234567890"),
            Some(1.2345678901234567e19)
        );
        for bad in [
            &b""[..],
            b"-",
            b".",
            b"1.2.3",
            b"inf",
            b"NaN",
            b"1,5",
            b" 1",
            b"abc",
            b"1e",
        ] {
            assert_eq!(
                parse_number(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(parse_integer(b"-42"), Some(-42));
        assert_eq!(parse_integer(b"4.0"), None);
        assert_eq!(parse_boolean(b"TRUE"), Some(true));
    }

    #[test]
    fn dates() {
        assert!(is_iso_date(b"2016"));
        assert!(is_iso_date(b"2016-02"));
        assert!(is_iso_date(b"2016-02-29"));
        assert!(!is_iso_date(b"2015-02-29"));
        assert!(!is_iso_date(b"2016-13"));
        assert!(!is_iso_date(b"02/03/2016"));
        assert!(is_iso_datetime(b"2016-02-03 14:05:00"));
        assert!(is_iso_datetime(b"2016-02-03T14:05:00Z"));
        assert!(is_iso_datetime(b"2016-02-03 14"));
        assert!(!is_iso_datetime(b"2016-02-03 25:00"));
    }

    #[test]
    fn ameriflux_timestamps_and_steps() {
        let t = |s: &[u8]| amf_timestamp(s).expect("valid");
        assert_eq!(t(b"200001011100") - t(b"200001011000"), 60);
        assert_eq!(t(b"200001010000") - t(b"199912312330"), 30);
        assert_eq!(t(b"200003010000") - t(b"200002282330"), 24 * 60 + 30);
        assert_eq!(t(b"210003010000") - t(b"210002282330"), 30);
        assert_eq!(
            amf_timestamp(b"20000101100000"),
            Err(TimestampProblem::Format)
        );
        assert_eq!(amf_timestamp(b"2.00001E+11"), Err(TimestampProblem::Format));
        assert_eq!(
            amf_timestamp(b"\"200001011300\""),
            Err(TimestampProblem::Format)
        );
        assert_eq!(
            amf_timestamp(b"201704000000"),
            Err(TimestampProblem::Invalid)
        );
        assert_eq!(
            amf_timestamp(b"000010100000"),
            Err(TimestampProblem::Invalid)
        );
    }

    #[test]
    fn ameriflux_missing_codes() {
        for bad in [
            &b""[..],
            b" ",
            b"NA",
            b"nan",
            b"NaN",
            b"Inf",
            b"-inf",
            b"Infinity",
            b"-INFINITY",
            b"-999",
            b"-6999",
            b"-99999",
            b"-9999.0",
            b"-9999.00",
            b"-9999.99",
            b"#NAME?",
            b"#VALUE!",
        ] {
            assert!(
                is_invalid_missing(bad),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        for ok in [
            &b"-9999"[..],
            b"-99",
            b"-1000",
            b"12",
            b"-9999.5",
            b"#x",
            b"-9999.",
        ] {
            let flagged = is_invalid_missing(ok);
            // -9999 is the accepted code; the caller tests it before this function.
            assert_eq!(
                flagged,
                *ok == *b"-9999",
                "{:?}",
                String::from_utf8_lossy(ok)
            );
        }
    }
}
