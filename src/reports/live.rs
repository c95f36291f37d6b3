//! Live chat figures: chats offered, taken and missed, how long visitors waited for a rep
//! and for the rep's first words, overall and per rep — from the roll-ups of the
//! `chat_taken` and `first_response` events (the rep in `card`, the time in ms in
//! `value`), recorded when they happened with the visitor as they were then.

use serde::Serialize;
use utoipa::ToSchema;

use super::stats::percentile_counted;
use crate::db::analytics::kind;
use crate::db::analytics::rollup::Daily;

/// Waits within `[from_ms, to_ms)` (`to_ms` `None`: no upper bound).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct WaitBucket {
    pub label: String,
    pub from_ms: i64,
    pub to_ms: Option<i64>,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RepFigures {
    /// The rep's user id in the CRM, in decimal.
    pub rep_id: String,
    pub name: String,
    pub taken: i64,
    pub wait_median_ms: Option<i64>,
    pub first_response_median_ms: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct LiveChat {
    /// Hand-offs to the reps.
    pub offered: i64,
    pub taken: i64,
    /// Went to the offline branch (nobody online, or nobody took it in time).
    pub missed: i64,
    pub wait_median_ms: Option<i64>,
    pub wait_p90_ms: Option<i64>,
    pub first_response_median_ms: Option<i64>,
    pub first_response_p90_ms: Option<i64>,
    pub waits: Vec<WaitBucket>,
    pub reps: Vec<RepFigures>,
}

/// Bucket edges of the wait distribution, in seconds.
const EDGES_S: [i64; 5] = [15, 30, 60, 120, 300];

/// `waits` as `(ms, how many)`.
fn buckets(waits: &[(i64, i64)]) -> Vec<WaitBucket> {
    let mut out = Vec::with_capacity(EDGES_S.len() + 1);
    let mut from = 0;
    for edge in EDGES_S.iter().map(|s| s * 1000).map(Some).chain([None]) {
        let label = match edge {
            Some(to) => format!("{}–{} s", from / 1000, to / 1000),
            None => format!("≥ {} s", from / 1000),
        };
        let count = waits
            .iter()
            .filter(|(w, _)| *w >= from && edge.is_none_or(|to| *w < to))
            .map(|(_, n)| n)
            .sum();
        out.push(WaitBucket {
            label,
            from_ms: from,
            to_ms: edge,
            count,
        });
        from = edge.unwrap_or(from);
    }
    out
}

/// `(value, count)` of the rows of `kind`, of one rep when given.
fn counted(daily: &[&Daily], kind: &str, rep: Option<&str>) -> Vec<(i64, i64)> {
    daily
        .iter()
        .filter(|d| d.kind == kind && rep.is_none_or(|r| d.card == r))
        .map(|d| (d.value, d.count))
        .collect()
}

/// `daily`: the report's roll-up rows (already filtered); `names`: `(rep id, name)` of
/// the reps they name (a rep no longer known is shown by id).
pub(super) fn live_chat(daily: &[&Daily], names: &[(String, String)]) -> LiveChat {
    let sum = |k: &str| -> i64 { daily.iter().filter(|d| d.kind == k).map(|d| d.count).sum() };
    let waits = counted(daily, kind::CHAT_TAKEN, None);
    let firsts = counted(daily, kind::FIRST_RESPONSE, None);
    let mut reps: Vec<RepFigures> = Vec::new();
    for d in daily.iter().filter(|d| d.kind == kind::CHAT_TAKEN) {
        if reps.iter().any(|r| r.rep_id == d.card) {
            continue;
        }
        let waits = counted(daily, kind::CHAT_TAKEN, Some(&d.card));
        let firsts = counted(daily, kind::FIRST_RESPONSE, Some(&d.card));
        reps.push(RepFigures {
            rep_id: d.card.clone(),
            name: names
                .iter()
                .find(|(id, _)| *id == d.card)
                .map_or_else(|| d.card.clone(), |(_, name)| name.clone()),
            taken: waits.iter().map(|(_, n)| n).sum(),
            wait_median_ms: percentile_counted(&waits, 50),
            first_response_median_ms: percentile_counted(&firsts, 50),
        });
    }
    reps.sort_by(|a, b| {
        b.taken
            .cmp(&a.taken)
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.rep_id.cmp(&b.rep_id))
    });
    LiveChat {
        offered: sum(kind::CHAT_OFFERED),
        taken: sum(kind::CHAT_TAKEN),
        missed: sum(kind::CHAT_MISSED),
        wait_median_ms: percentile_counted(&waits, 50),
        wait_p90_ms: percentile_counted(&waits, 90),
        first_response_median_ms: percentile_counted(&firsts, 50),
        first_response_p90_ms: percentile_counted(&firsts, 90),
        waits: buckets(&waits),
        reps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_fall_into_their_buckets() {
        let b = buckets(&[
            (0, 1),
            (14_999, 1),
            (15_000, 1),
            (61_000, 1),
            (300_000, 1),
            (900_000, 1),
        ]);
        let counts: Vec<i64> = b.iter().map(|b| b.count).collect();
        assert_eq!(counts, vec![2, 1, 0, 1, 0, 2]);
        assert_eq!(b[0].label, "0–15 s");
        assert_eq!(b[5].label, "≥ 300 s");
        let b = buckets(&[(20_000, 3), (40_000, 2)]);
        let counts: Vec<i64> = b.iter().map(|b| b.count).collect();
        assert_eq!(counts, vec![0, 3, 2, 0, 0, 0]);
    }
}
