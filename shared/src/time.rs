//! Timestamps. Time is always passed in (milliseconds since the Unix epoch) so that the core
//! is testable; this module only formats it. Stored form: ISO-8601 UTC with milliseconds,
//! e.g. `2026-11-21T20:17:36.123Z`, which sorts as text and which SQLite's date functions read.

/// Formats epoch milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn iso_from_ms(ms: u64) -> String {
    let secs = ms / 1000;
    let millis = ms % 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 of a `YYYY-MM-DD…` text (the date part of the stored form).
pub fn epoch_day(date: &str) -> Option<i64> {
    let part = |r: std::ops::Range<usize>| date.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (part(0..4)?, part(5..7)?, part(8..10)?);
    // Howard Hinnant's days-from-civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// `YYYY-MM-DD` of a day counted from 1970-01-01.
pub fn date_of_epoch_day(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(iso_from_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_from_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso_from_ms(1_795_292_256_123), "2026-11-21T20:17:36.123Z");
    }

    #[test]
    fn epoch_days_round_trip_through_dates() {
        assert_eq!(epoch_day("1970-01-01"), Some(0));
        assert_eq!(epoch_day("2000-03-01T00:00:00.000Z"), Some(11_017));
        for day in [0, 59, 60, 11_016, 20_413, 20_778, 40_000] {
            assert_eq!(epoch_day(&date_of_epoch_day(day)), Some(day), "{day}");
        }
        assert_eq!(epoch_day("garbage"), None);
    }

    #[test]
    fn text_order_follows_time_order() {
        let a = iso_from_ms(1_700_000_000_000);
        let b = iso_from_ms(1_700_000_000_001);
        let c = iso_from_ms(1_800_000_000_000);
        assert!(a < b && b < c);
    }
}
