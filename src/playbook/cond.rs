//! Evaluating condition cards' tests against the conversation's variables.
//!
//! Operators (see the playbook format reference):
//! - `eq` / `ne`: numbers compare as numbers when both sides read as numbers, anything else
//!   as case-insensitive text. A list (`tags`) compares as its text (`a, b`); use
//!   `contains` for membership.
//! - `contains`: a list holds the value (compared like `eq`), or a text holds it as a
//!   case-insensitive substring. A list as `value` means "contains any of them".
//! - `in`: the variable's value is one of the `value` list (a list variable: any of its
//!   items is). A single `value` counts as a list of one.
//! - `gt`, `gte`, `lt`, `lte`: numbers, or `YYYY-MM-DD` dates; anything else is false.
//! - `set` / `unset`: the variable has a value (not null, not empty text, not an empty list).
//! - `matches`: the whole text matches a pattern where `*` is any run of characters,
//!   case-insensitive (a list variable: any item matches).
//! - `all: [...]` holds when every part holds (an empty list holds), `any: [...]` when one
//!   does (an empty list does not).
//!
//! An unset variable satisfies only `unset` and `ne`.

use std::cmp::Ordering;

use chrono::NaiveDate;
use serde_json::Value;

use super::model::{Cond, Op};
use super::vars::{Vars, value_text};

/// Does `cond` hold for these variables?
pub fn holds(cond: &Cond, vars: &Vars) -> bool {
    match cond {
        Cond::All(parts) => parts.iter().all(|c| holds(c, vars)),
        Cond::Any(parts) => parts.iter().any(|c| holds(c, vars)),
        Cond::Test { var, op, value } => test(vars.get(var).as_ref(), *op, value.as_ref()),
    }
}

/// One operator applied to a variable's value (`None` when unset) and the rule's value.
pub fn test(actual: Option<&Value>, op: Op, expected: Option<&Value>) -> bool {
    let actual = actual.filter(|v| has_value(v));
    match op {
        Op::Set => actual.is_some(),
        Op::Unset => actual.is_none(),
        Op::Ne => !test(actual, Op::Eq, expected),
        _ => {
            let (Some(actual), Some(expected)) = (actual, expected) else {
                return false;
            };
            match op {
                Op::Eq => equal(actual, expected),
                Op::Contains => contains(actual, expected),
                Op::In => one_of(actual, expected),
                Op::Gt => compare(actual, expected) == Some(Ordering::Greater),
                Op::Gte => matches!(
                    compare(actual, expected),
                    Some(Ordering::Greater | Ordering::Equal)
                ),
                Op::Lt => compare(actual, expected) == Some(Ordering::Less),
                Op::Lte => matches!(
                    compare(actual, expected),
                    Some(Ordering::Less | Ordering::Equal)
                ),
                Op::Matches => match actual {
                    Value::Array(items) => items.iter().any(|i| wildcard(i, expected)),
                    _ => wildcard(actual, expected),
                },
                Op::Set | Op::Unset | Op::Ne => false,
            }
        }
    }
}

fn has_value(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => !items.is_empty(),
        _ => true,
    }
}

/// A scalar read as a number: JSON numbers, and text that parses as one.
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
        _ => None,
    }
}

fn date(v: &Value) -> Option<NaiveDate> {
    match v {
        Value::String(s) => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok(),
        _ => None,
    }
}

fn equal(a: &Value, b: &Value) -> bool {
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x == y,
        _ => value_text(a).to_lowercase() == value_text(b).to_lowercase(),
    }
}

fn contains(haystack: &Value, needle: &Value) -> bool {
    if let Value::Array(any_of) = needle {
        return any_of.iter().any(|n| contains(haystack, n));
    }
    match haystack {
        Value::Array(items) => items.iter().any(|item| equal(item, needle)),
        other => value_text(other)
            .to_lowercase()
            .contains(&value_text(needle).to_lowercase()),
    }
}

fn one_of(actual: &Value, list: &Value) -> bool {
    let candidates = match list {
        Value::Array(items) => items.as_slice(),
        single => std::slice::from_ref(single),
    };
    match actual {
        Value::Array(items) => items
            .iter()
            .any(|item| candidates.iter().any(|c| equal(item, c))),
        _ => candidates.iter().any(|c| equal(actual, c)),
    }
}

fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (number(a), number(b)) {
        return x.partial_cmp(&y);
    }
    Some(date(a)?.cmp(&date(b)?))
}

/// Whole-string match where `*` stands for any run of characters, ignoring case.
fn wildcard(text: &Value, pattern: &Value) -> bool {
    matches_pattern(&value_text(pattern), &value_text(text))
}

/// Does the whole `text` match `pattern`, where `*` stands for any run of characters?
/// Ignores case. The one wildcard matcher: conditions and targeting's URL rules
/// (`chat::targeting`) both use it. Twenty lines of ours rather than a glob crate's: those
/// give `?`, `[…]` and path separators meanings the format does not have.
pub fn matches_pattern(pattern: &str, text: &str) -> bool {
    let text: Vec<char> = text.to_lowercase().chars().collect();
    let pattern: Vec<char> = pattern.to_lowercase().chars().collect();
    wildcard_chars(&text, &pattern)
}

fn wildcard_chars(text: &[char], pattern: &[char]) -> bool {
    // Greedy matching with a single backtrack point: linear in practice, never exponential.
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            t += 1;
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> Vars {
        let mut v = Vars::default();
        v.set("vars.size", json!("11-50"));
        v.set("vars.seats", json!(12));
        v.set("vars.seats_text", json!("12.0"));
        v.set("vars.plan", json!("Enterprise"));
        v.set("vars.day", json!("2027-03-04"));
        v.set("vars.empty", json!(""));
        v.set("visitor.url", json!("/Pricing/teams"));
        v.add_score(25);
        v.add_tag("enterprise");
        v.add_tag("b2b");
        v
    }

    fn check(var: &str, op: Op, value: Value) -> bool {
        let cond = Cond::Test {
            var: var.into(),
            op,
            value: Some(value),
        };
        holds(&cond, &vars())
    }

    fn check_bare(var: &str, op: Op) -> bool {
        let cond = Cond::Test {
            var: var.into(),
            op,
            value: None,
        };
        holds(&cond, &vars())
    }

    #[test]
    fn eq_compares_numbers_as_numbers_and_text_ignoring_case() {
        assert!(check("vars.seats", Op::Eq, json!("12")));
        assert!(check("vars.seats_text", Op::Eq, json!(12)));
        assert!(check("score", Op::Eq, json!(25)));
        assert!(check("vars.plan", Op::Eq, json!("enterprise")));
        assert!(!check("vars.plan", Op::Eq, json!("enterprise plus")));
        assert!(!check("vars.missing", Op::Eq, json!("")));
    }

    #[test]
    fn ne_is_the_opposite_of_eq() {
        assert!(check("vars.seats", Op::Ne, json!(13)));
        assert!(!check("vars.plan", Op::Ne, json!("ENTERPRISE")));
        assert!(check("vars.missing", Op::Ne, json!("x")));
    }

    #[test]
    fn contains_looks_in_lists_and_text() {
        assert!(check("tags", Op::Contains, json!("Enterprise")));
        assert!(!check("tags", Op::Contains, json!("enter")));
        assert!(check("tags", Op::Contains, json!(["smb", "b2b"])));
        assert!(check("visitor.url", Op::Contains, json!("pricing")));
        assert!(!check("visitor.url", Op::Contains, json!("blog")));
        assert!(!check("vars.missing", Op::Contains, json!("x")));
    }

    #[test]
    fn in_checks_membership_of_the_given_list() {
        assert!(check("vars.size", Op::In, json!(["1-10", "11-50"])));
        assert!(!check("vars.size", Op::In, json!(["50+"])));
        assert!(check("vars.seats", Op::In, json!([10, 12.0])));
        assert!(check("vars.plan", Op::In, json!("ENTERPRISE")));
        assert!(check("tags", Op::In, json!(["b2b", "x"])));
        assert!(!check("vars.missing", Op::In, json!(["x"])));
    }

    #[test]
    fn ordering_on_numbers() {
        assert!(check("score", Op::Gt, json!(20)));
        assert!(!check("score", Op::Gt, json!(25)));
        assert!(check("score", Op::Gte, json!(25)));
        assert!(check("score", Op::Gte, json!("24.5")));
        assert!(check("vars.seats", Op::Lt, json!(12.5)));
        assert!(!check("vars.seats", Op::Lt, json!(12)));
        assert!(check("vars.seats", Op::Lte, json!(12)));
        assert!(!check("vars.plan", Op::Gt, json!(1)));
        assert!(!check("vars.missing", Op::Lt, json!(1)));
    }

    #[test]
    fn ordering_on_dates() {
        assert!(check("vars.day", Op::Gt, json!("2027-03-03")));
        assert!(check("vars.day", Op::Lte, json!("2027-03-04")));
        assert!(check("vars.day", Op::Lt, json!("2028-01-01")));
        assert!(!check("vars.day", Op::Gte, json!("2027-12-31")));
        assert!(!check("vars.day", Op::Gt, json!("not a date")));
    }

    #[test]
    fn set_and_unset() {
        assert!(check_bare("vars.plan", Op::Set));
        assert!(!check_bare("vars.plan", Op::Unset));
        assert!(check_bare("vars.missing", Op::Unset));
        assert!(check_bare("vars.empty", Op::Unset));
        assert!(check_bare("tags", Op::Set));
        assert!(holds(
            &Cond::Test {
                var: "tags".into(),
                op: Op::Unset,
                value: None
            },
            &Vars::default()
        ));
    }

    #[test]
    fn matches_whole_text_with_wildcards() {
        assert!(check("visitor.url", Op::Matches, json!("/pricing*")));
        assert!(check("visitor.url", Op::Matches, json!("*TEAMS")));
        assert!(check("visitor.url", Op::Matches, json!("/*/*")));
        assert!(!check("visitor.url", Op::Matches, json!("/pricing")));
        assert!(!check("visitor.url", Op::Matches, json!("pricing*")));
        assert!(check("tags", Op::Matches, json!("ent*")));
        assert!(check("vars.plan", Op::Matches, json!("*")));
        assert!(!check("vars.missing", Op::Matches, json!("*")));
        assert!(wildcard_chars(
            &['a'; 40],
            &['*', 'a', '*', 'a', '*', 'a', '*', 'a']
        ));
        assert!(!wildcard_chars(&['a'; 40], &['*', 'a', '*', 'b']));
    }

    #[test]
    fn all_and_any_combine() {
        let yes = Cond::Test {
            var: "score".into(),
            op: Op::Gte,
            value: Some(json!(20)),
        };
        let no = Cond::Test {
            var: "tags".into(),
            op: Op::Contains,
            value: Some(json!("smb")),
        };
        let v = vars();
        assert!(holds(&Cond::All(vec![yes.clone(), yes.clone()]), &v));
        assert!(!holds(&Cond::All(vec![yes.clone(), no.clone()]), &v));
        assert!(holds(&Cond::Any(vec![no.clone(), yes.clone()]), &v));
        assert!(!holds(&Cond::Any(vec![no.clone()]), &v));
        assert!(holds(&Cond::All(vec![]), &v));
        assert!(!holds(&Cond::Any(vec![]), &v));
        assert!(holds(&Cond::Any(vec![no, Cond::All(vec![yes])]), &v));
    }
}
