//! ISO 8601 / W3CDTF dates and RKMS-ISO8601 `start/end` ranges as DataCite
//! allows them in `dates[].date`.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};

use super::ids::excerpt;

/// The instants a date value covers (a year covers all of that year).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    pub first: NaiveDateTime,
    pub last: NaiveDateTime,
}

const FORMS: &str = "use YYYY, YYYY-MM, YYYY-MM-DD, a date and time such as 2020-05-17T13:45:00Z, \
     or a range start/end such as 2019-05-01/2020-04-30";

/// Check a `dates[].date` value; the error is a message for the depositor.
pub(super) fn check_date_value(value: &str) -> Result<(), String> {
    let v = value.trim();
    if v.is_empty() {
        return Err("Enter a date".into());
    }
    match v.split_once('/') {
        None => parse_point(v).map(|_| ()),
        Some((a, b)) => {
            if b.contains('/') {
                return Err(format!("\"{}\" is not a date range; {FORMS}", excerpt(v)));
            }
            let open = |s: &str| s.is_empty() || s == "..";
            let (a, b) = (a.trim(), b.trim());
            if open(a) && open(b) {
                return Err(format!("\"{}\" is not a date range; {FORMS}", excerpt(v)));
            }
            let start = if open(a) { None } else { Some(parse_point(a)?) };
            let end = if open(b) { None } else { Some(parse_point(b)?) };
            if let (Some(s), Some(e)) = (start, end) {
                if s.first > e.last {
                    return Err(format!(
                        "The range starts ({a}) after it ends ({b}); write it as start/end"
                    ));
                }
            }
            Ok(())
        }
    }
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Parse one date or datetime.
pub(super) fn parse_point(s: &str) -> Result<Span, String> {
    let bad = || format!("\"{}\" is not a date; {FORMS}", excerpt(s));
    let not_real = || format!("{} is not a real calendar date", excerpt(s));
    let end_of_day = NaiveTime::from_hms_opt(23, 59, 59).ok_or_else(bad)?;
    let (date_part, time_part) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let pieces: Vec<&str> = date_part.split('-').collect();
    let shape_ok = match pieces.as_slice() {
        [y] => y.len() == 4 && all_digits(y),
        [y, m] => y.len() == 4 && all_digits(y) && m.len() == 2 && all_digits(m),
        [y, m, d] => {
            y.len() == 4
                && all_digits(y)
                && m.len() == 2
                && all_digits(m)
                && d.len() == 2
                && all_digits(d)
        }
        _ => false,
    };
    if !shape_ok || (time_part.is_some() && pieces.len() != 3) {
        return Err(bad());
    }
    let num = |p: &str| p.parse::<u32>().map_err(|_| bad());
    let year = pieces[0].parse::<i32>().map_err(|_| bad())?;
    match (pieces.len(), time_part) {
        (1, _) => {
            let first = NaiveDate::from_ymd_opt(year, 1, 1).ok_or_else(not_real)?;
            let last = NaiveDate::from_ymd_opt(year, 12, 31).ok_or_else(not_real)?;
            Ok(Span {
                first: first.and_time(NaiveTime::MIN),
                last: last.and_time(end_of_day),
            })
        }
        (2, _) => {
            let month = num(pieces[1])?;
            let first = NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(not_real)?;
            let next = if month == 12 {
                NaiveDate::from_ymd_opt(year + 1, 1, 1)
            } else {
                NaiveDate::from_ymd_opt(year, month + 1, 1)
            };
            let last = next.and_then(|d| d.pred_opt()).ok_or_else(not_real)?;
            Ok(Span {
                first: first.and_time(NaiveTime::MIN),
                last: last.and_time(end_of_day),
            })
        }
        (_, None) => {
            let d = NaiveDate::from_ymd_opt(year, num(pieces[1])?, num(pieces[2])?)
                .ok_or_else(not_real)?;
            Ok(Span {
                first: d.and_time(NaiveTime::MIN),
                last: d.and_time(end_of_day),
            })
        }
        (_, Some(_)) => {
            // Check the calendar date first for a precise message.
            NaiveDate::from_ymd_opt(year, num(pieces[1])?, num(pieces[2])?).ok_or_else(not_real)?;
            let instant = parse_datetime(s).ok_or_else(bad)?;
            Ok(Span {
                first: instant,
                last: instant,
            })
        }
    }
}

/// Datetimes with or without a UTC offset, with or without seconds. Values with an
/// offset are converted to UTC; values without are taken as given.
fn parse_datetime(s: &str) -> Option<NaiveDateTime> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.naive_utc());
    }
    if let Ok(dt) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M%:z") {
        return Some(dt.naive_utc());
    }
    let naive = s.strip_suffix('Z').unwrap_or(s);
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(naive, fmt) {
            return Some(dt);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_iso_forms() {
        for v in [
            "2020",
            "2020-02",
            "2020-02-29",
            "2020-05-17T13:45:00Z",
            "2020-05-17T13:45:00.123+02:00",
            "2020-05-17T13:45+02:00",
            "2020-05-17T13:45:00",
            "2020-05-17T13:45Z",
            "2010/2020",
            "2019-05-01/2020-04-30",
            "2020/2020-06",
            "2020-06/2020",
            "2020-01-01T00:00:00Z/2020-01-01T10:00:00Z",
            "2019/",
            "/2020",
            "../2020",
            " 2020-01-01 ",
        ] {
            assert_eq!(check_date_value(v), Ok(()), "{v}");
        }
    }

    #[test]
    fn rejects_bad_dates() {
        for v in [
            "",
            "20",
            "2020-2",
            "2020-13",
            "2021-02-29",
            "2020-02-30T00:00:00Z",
            "17/05/2020",
            "May 2020",
            "2020-05-17 13:45",
            "2020-05-17T25:00:00Z",
            "2020T10:00",
            "/",
            "2020/2021/2022",
            "+2020",
        ] {
            assert!(check_date_value(v).is_err(), "{v}");
        }
        assert_eq!(
            check_date_value("2021-02-29"),
            Err("2021-02-29 is not a real calendar date".into())
        );
    }

    #[test]
    fn range_order() {
        assert!(check_date_value("2019-01-01/2020-01-01").is_ok());
        assert!(check_date_value("2020-01-01/2020-01-01").is_ok());
        let e = check_date_value("2021/2020").unwrap_err();
        assert!(e.contains("starts (2021) after it ends (2020)"), "{e}");
        assert!(check_date_value("2020-03-02/2020-03-01").is_err());
        assert!(check_date_value("2020-01-01T10:00:00Z/2020-01-01T09:00:00Z").is_err());
    }
}
