//! Answer rules: keyword(s) → one reply, checked in order after playbook keyword triggers.
//! When nothing matches, the company's fallback reply (not twice in a row), then an
//! acknowledgement of each further line (`turn.rs`).

use super::targeting::keywords_match;
use crate::db::answer_rules::AnswerRuleRow;

/// The first enabled rule whose keywords the text contains. A rule whose stored keywords
/// cannot be read matches nothing (the error, naming the rule, is logged when read).
pub fn find<'a>(rules: &'a [AnswerRuleRow], text: &str) -> Option<&'a AnswerRuleRow> {
    rules
        .iter()
        .filter(|r| r.enabled)
        .find(|r| r.keywords().is_ok_and(|k| keywords_match(&k, text)))
}

/// Should the fallback reply be sent, given the conversation's latest reply? Not when it
/// was the very same fallback: a visitor who writes three lines in a row gets it once.
pub fn fallback_due(fallback: &str, last_reply: Option<&str>) -> bool {
    !fallback.trim().is_empty() && last_reply != Some(fallback)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: &str, keywords: &[&str], enabled: bool) -> AnswerRuleRow {
        AnswerRuleRow {
            id: id.into(),
            company_id: "c".into(),
            keywords: serde_json::to_string(keywords).unwrap(),
            reply: format!("reply {id}"),
            position: 0,
            enabled,
            created_at: 0,
        }
    }

    #[test]
    fn first_matching_enabled_rule_wins() {
        let rules = vec![
            rule("off", &["hours"], false),
            rule("hours", &["opening hours", "open"], true),
            rule("also", &["hours"], true),
        ];
        assert_eq!(find(&rules, "When are you OPEN?").unwrap().id, "hours");
        assert_eq!(find(&rules, "your hours?").unwrap().id, "also");
        assert!(find(&rules, "hello").is_none());
    }

    #[test]
    fn the_fallback_is_not_repeated() {
        assert!(fallback_due("Thanks!", None));
        assert!(fallback_due("Thanks!", Some("Hi there")));
        assert!(!fallback_due("Thanks!", Some("Thanks!")));
        assert!(!fallback_due("  ", None));
    }
}
