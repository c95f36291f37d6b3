//! Live chat figures: chats offered, taken and missed, how long visitors waited for a rep
//! and for the rep's first words, overall and per rep.

use serde::Serialize;
use utoipa::ToSchema;

use super::TakeRow;
use super::stats::percentile;

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

fn buckets(waits: &[i64]) -> Vec<WaitBucket> {
    let mut out = Vec::with_capacity(EDGES_S.len() + 1);
    let mut from = 0;
    for edge in EDGES_S.iter().map(|s| s * 1000).map(Some).chain([None]) {
        let label = match edge {
            Some(to) => format!("{}–{} s", from / 1000, to / 1000),
            None => format!("≥ {} s", from / 1000),
        };
        let count = waits
            .iter()
            .filter(|w| **w >= from && edge.is_none_or(|to| **w < to))
            .count() as i64;
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

pub(super) fn live_chat(offered: i64, missed: i64, takes: &[&TakeRow]) -> LiveChat {
    let waits: Vec<i64> = takes.iter().map(|t| t.waited_ms).collect();
    let firsts: Vec<i64> = takes.iter().filter_map(|t| t.first_response_ms).collect();
    let mut reps: Vec<RepFigures> = Vec::new();
    for t in takes {
        if reps.iter().any(|r| r.rep_id == t.rep_id) {
            continue;
        }
        let mine: Vec<&&TakeRow> = takes.iter().filter(|o| o.rep_id == t.rep_id).collect();
        let waits: Vec<i64> = mine.iter().map(|o| o.waited_ms).collect();
        let firsts: Vec<i64> = mine.iter().filter_map(|o| o.first_response_ms).collect();
        reps.push(RepFigures {
            rep_id: t.rep_id.clone(),
            name: t.rep_name.clone(),
            taken: mine.len() as i64,
            wait_median_ms: percentile(&waits, 50),
            first_response_median_ms: percentile(&firsts, 50),
        });
    }
    reps.sort_by(|a, b| b.taken.cmp(&a.taken).then_with(|| a.name.cmp(&b.name)));
    LiveChat {
        offered,
        taken: takes.len() as i64,
        missed,
        wait_median_ms: percentile(&waits, 50),
        wait_p90_ms: percentile(&waits, 90),
        first_response_median_ms: percentile(&firsts, 50),
        first_response_p90_ms: percentile(&firsts, 90),
        waits: buckets(&waits),
        reps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_fall_into_their_buckets() {
        let b = buckets(&[0, 14_999, 15_000, 61_000, 300_000, 900_000]);
        let counts: Vec<i64> = b.iter().map(|b| b.count).collect();
        assert_eq!(counts, vec![2, 1, 0, 1, 0, 2]);
        assert_eq!(b[0].label, "0–15 s");
        assert_eq!(b[5].label, "≥ 300 s");
    }
}
