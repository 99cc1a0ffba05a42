//! Wall-clock time as the node reports it: milliseconds since the Unix epoch, and the
//! ISO-8601 / calendar forms of it, without a date crate.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The current UTC time like JavaScript's `new Date().toISOString()`:
/// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn iso_now() -> String {
    iso_8601_ms(i64::try_from(now_ms()).unwrap_or(i64::MAX))
}

/// Epoch milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
pub fn iso_8601_ms(epoch_ms: i64) -> String {
    let millis = epoch_ms.rem_euclid(1000);
    let secs = epoch_ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_timestamps_match_javascript() {
        assert_eq!(iso_8601_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_8601_ms(1_709_251_199_123), "2024-02-29T23:59:59.123Z");
        assert_eq!(iso_8601_ms(-1), "1969-12-31T23:59:59.999Z");
        let now = iso_now();
        assert_eq!(now.len(), 24, "{now}");
        assert!(now_ms() > 1_700_000_000_000);
    }
}
