//! Small statistics of the reports: rates, percentiles, day labels.

use chrono::{DateTime, NaiveDate};

/// `part ÷ whole`, 0 when `whole` is 0, rounded to four decimals.
pub fn rate(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        return 0.0;
    }
    (part as f64 / whole as f64 * 10_000.0).round() / 10_000.0
}

/// The `p`-th percentile (0 < p ≤ 100) by the nearest-rank method: the smallest value
/// with at least p % of the values at or below it. `None` for no values.
pub fn percentile(values: &[i64], p: u32) -> Option<i64> {
    let counted: Vec<(i64, i64)> = values.iter().map(|v| (*v, 1)).collect();
    percentile_counted(&counted, p)
}

/// [`percentile`] of values given as `(value, how many times)` (roll-up rows).
pub fn percentile_counted(values: &[(i64, i64)], p: u32) -> Option<i64> {
    let n: i64 = values.iter().map(|(_, c)| (*c).max(0)).sum();
    if n == 0 {
        return None;
    }
    let mut sorted: Vec<(i64, i64)> = values.iter().filter(|(_, c)| *c > 0).copied().collect();
    sorted.sort_unstable();
    let rank =
        (n * i64::from(p)).div_euclid(100) + i64::from((n * i64::from(p)).rem_euclid(100) != 0);
    let rank = rank.clamp(1, n);
    let mut seen = 0;
    for (value, count) in sorted {
        seen += count;
        if seen >= rank {
            return Some(value);
        }
    }
    None
}

/// `YYYY-MM-DD` of a UTC day number.
pub fn day_label(day: i64) -> String {
    DateTime::from_timestamp_millis(day.saturating_mul(86_400_000))
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// The UTC day number of `YYYY-MM-DD`.
pub fn parse_day(text: &str) -> Option<i64> {
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let start = date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis();
    Some(start.div_euclid(86_400_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v = [15, 20, 35, 40, 50];
        assert_eq!(percentile(&v, 50), Some(35));
        assert_eq!(percentile(&v, 90), Some(50));
        assert_eq!(percentile(&[40, 10, 30, 20], 50), Some(20));
        assert_eq!(percentile(&[7], 90), Some(7));
        assert_eq!(percentile(&[], 50), None);
        // Counted values: the same as the values written out.
        assert_eq!(percentile_counted(&[(20, 2), (10, 1)], 50), Some(20));
        assert_eq!(
            percentile_counted(&[(50, 1), (15, 3), (40, 1)], 90),
            Some(50)
        );
        assert_eq!(
            percentile_counted(&[(50, 1), (15, 3), (40, 1)], 50),
            Some(15)
        );
        assert_eq!(percentile_counted(&[(9, 0)], 50), None);
    }

    #[test]
    fn rates_and_days() {
        assert_eq!(rate(1, 3), 0.3333);
        assert_eq!(rate(5, 0), 0.0);
        assert_eq!(parse_day("1970-01-02"), Some(1));
        assert_eq!(day_label(20_000), "2024-10-04");
        assert_eq!(parse_day(&day_label(20_000)), Some(20_000));
        assert_eq!(parse_day("2024-13-01"), None);
    }
}
