//! Which playbooks apply to a visitor on a page, and in what order. Pure: the caller
//! passes the page, what is known of the visitor and the time.
//!
//! - URL rules: patterns with `*` wildcards, case-insensitive. A pattern starting with `/`
//!   matches the page's path (`/pricing*`); one with `://` the whole address
//!   (`https://shop.example.com/*`); any other the address without its scheme
//!   (`example.com/blog/*`). An empty include list matches every page; an exclude match
//!   always wins.
//! - Visitors: new (first visit) or returning, known (the company has their e-mail) or
//!   unknown; their browser's language (`fr` matches `fr`, `fr-CA`, `fr_BE`).
//! - Hours: within or outside the company's business hours, in the company's time zone.
//! - Keywords: a keyword (one or more words) matches when the message contains its words
//!   in a row, as whole words, ignoring case and punctuation.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Timelike, Utc};

use crate::db::companies::{Company, CompanySettings};
use crate::db::live::Rep;
use crate::db::playbooks::Published;
pub use crate::playbook::cond::matches_pattern as wildcard;
use crate::playbook::model::{HoursFilter, Trigger, UrlRules, VisitorFilter};

/// What targeting knows about the visitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Audience<'a> {
    pub returning: bool,
    pub known: bool,
    /// The browser's language tag (`fr-CA`); may be empty.
    pub language: &'a str,
}

/// Does the trigger's where/who/when apply?
pub fn applies(trigger: &Trigger, url: &str, audience: Audience<'_>, open_now: bool) -> bool {
    url_matches(&trigger.urls, url)
        && visitor_matches(trigger.visitors, audience)
        && language_matches(&trigger.languages, audience.language)
        && hours_match(trigger.hours, open_now)
}

/// Is the browser language `tag` one of `languages` (primary codes)? An empty list
/// matches every visitor; a visitor without a language matches only an empty list.
pub fn language_matches(languages: &[String], tag: &str) -> bool {
    let primary = tag.trim().split(['-', '_']).next().unwrap_or_default();
    languages.is_empty() || languages.iter().any(|l| l.eq_ignore_ascii_case(primary))
}

/// Highest priority first, then by slug (a stable order).
pub fn rank(playbooks: &mut [Published]) {
    playbooks.sort_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then_with(|| a.document.slug.cmp(&b.document.slug))
    });
}

pub fn url_matches(rules: &UrlRules, url: &str) -> bool {
    let included = rules.include.is_empty() || rules.include.iter().any(|p| url_pattern(p, url));
    included && !rules.exclude.iter().any(|p| url_pattern(p, url))
}

fn url_pattern(pattern: &str, url: &str) -> bool {
    let pattern = pattern.trim();
    let url = url.split('#').next().unwrap_or_default();
    if pattern.starts_with('/') {
        let path = match url::Url::parse(url) {
            Ok(u) => u.path().to_owned(),
            // A bare path (the widget sends full addresses; tests and tools may not).
            Err(_) => url.split('?').next().unwrap_or_default().to_owned(),
        };
        wildcard(trim_slash(pattern), trim_slash(&path))
    } else if pattern.contains("://") {
        wildcard(pattern, url)
    } else {
        let without_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
        wildcard(pattern, without_scheme)
    }
}

/// `/pricing/` and `/pricing` are the same page; `/` stays `/`.
fn trim_slash(path: &str) -> &str {
    match path.trim_end_matches('/') {
        "" => "/",
        p => p,
    }
}

pub fn visitor_matches(filter: VisitorFilter, a: Audience<'_>) -> bool {
    match filter {
        VisitorFilter::Any => true,
        VisitorFilter::New => !a.returning,
        VisitorFilter::Returning => a.returning,
        VisitorFilter::Known => a.known,
        VisitorFilter::Unknown => !a.known,
    }
}

pub fn hours_match(filter: HoursFilter, open_now: bool) -> bool {
    match filter {
        HoursFilter::Any => true,
        HoursFilter::Open => open_now,
        HoursFilter::Closed => !open_now,
    }
}

/// Is the company open at `now`? Business hours are per weekday (0 = Monday) as
/// `HH:MM-HH:MM` ranges in the company's time zone; a range whose end is before its start
/// runs past midnight. A holiday (a local date) is closed all day. Unreadable ranges count
/// as closed; an unknown zone as UTC.
pub fn is_open(settings: &CompanySettings, now: DateTime<Utc>) -> bool {
    let tz: chrono_tz::Tz = settings.timezone.parse().unwrap_or(chrono_tz::UTC);
    let local = now.with_timezone(&tz);
    if is_holiday(&settings.holidays, local.date_naive()) {
        return false;
    }
    let minute = local.hour() * 60 + local.minute();
    let today = local.weekday().num_days_from_monday() as usize;
    let yesterday = (today + 6) % 7;
    let ranges = |day: usize| {
        settings
            .business_hours
            .get(day)
            .into_iter()
            .flatten()
            .filter_map(|r| parse_range(r))
    };
    ranges(today).any(|(start, end)| {
        if start < end {
            (start..end).contains(&minute)
        } else {
            minute >= start
        }
    }) || ranges(yesterday).any(|(start, end)| end < start && minute < end)
}

/// Is `day` one of the holidays (`YYYY-MM-DD`)? Unreadable dates match no day.
pub fn is_holiday(holidays: &[String], day: NaiveDate) -> bool {
    holidays.iter().any(|h| parse_holiday(h) == Some(day))
}

/// `2026-12-25` → the date.
pub fn parse_holiday(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()
}

/// `09:00-17:30` → minutes of the day (540, 1050). `24:00` is accepted as an end.
pub fn parse_range(text: &str) -> Option<(u32, u32)> {
    let (a, b) = text.split_once('-')?;
    let minutes = |t: &str| {
        let t = t.trim();
        if t == "24:00" {
            return Some(24 * 60);
        }
        NaiveTime::parse_from_str(t, "%H:%M")
            .ok()
            .map(|n| n.hour() * 60 + n.minute())
    };
    let (start, end) = (minutes(a)?, minutes(b)?);
    (start != end).then_some((start, end))
}

/// Does the message contain one of the keywords (as whole words, in a row)?
pub fn keywords_match(keywords: &[String], text: &str) -> bool {
    let words = words(text);
    keywords.iter().any(|k| {
        let k = self::words(k);
        !k.is_empty() && words.windows(k.len()).any(|w| w == k.as_slice())
    })
}

/// Lower-cased words: runs of letters and digits.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Is the rep counted as online now?
pub fn effective_online(rep: &Rep, company: &Company, now: DateTime<Utc>) -> bool {
    let settings = company.settings();
    let since = now.timestamp_millis() - i64::from(settings.heartbeat_timeout_seconds) * 1000;
    rep.connected(since) && is_open(&settings, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn rules(include: &[&str], exclude: &[&str]) -> UrlRules {
        UrlRules {
            include: include.iter().map(|s| s.to_string()).collect(),
            exclude: exclude.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn url_rules_with_wildcards() {
        let r = rules(&["/pricing*", "/"], &["/blog/*"]);
        assert!(url_matches(&r, "https://acme.test/pricing"));
        assert!(url_matches(&r, "https://acme.test/pricing/team?x=1#top"));
        assert!(url_matches(&r, "https://acme.test/"));
        assert!(url_matches(&r, "https://acme.test"));
        assert!(!url_matches(&r, "https://acme.test/about"));
        let everywhere_but_blog = rules(&[], &["/blog/*"]);
        assert!(url_matches(&everywhere_but_blog, "https://acme.test/about"));
        assert!(!url_matches(
            &everywhere_but_blog,
            "https://acme.test/blog/post-1"
        ));
        let full = rules(&["https://shop.acme.test/*"], &[]);
        assert!(url_matches(&full, "https://shop.acme.test/cart"));
        assert!(!url_matches(&full, "https://acme.test/cart"));
        let host = rules(&["*.acme.test/docs*"], &[]);
        assert!(url_matches(&host, "http://www.acme.test/docs/intro"));
        assert!(url_matches(
            &rules(&["/PRICING"], &[]),
            "https://a.test/pricing/"
        ));
    }

    #[test]
    fn wildcards() {
        assert!(wildcard("*", ""));
        assert!(wildcard("a*c*e", "abcde"));
        assert!(!wildcard("a*c*e", "abcdf"));
        assert!(wildcard("**x", "yyx"));
        assert!(!wildcard("abc", "abcd"));
    }

    #[test]
    fn visitor_filters() {
        let new_unknown = Audience {
            returning: false,
            known: false,
            language: "",
        };
        let back_known = Audience {
            returning: true,
            known: true,
            language: "en",
        };
        assert!(visitor_matches(VisitorFilter::New, new_unknown));
        assert!(!visitor_matches(VisitorFilter::New, back_known));
        assert!(visitor_matches(VisitorFilter::Returning, back_known));
        assert!(visitor_matches(VisitorFilter::Known, back_known));
        assert!(!visitor_matches(VisitorFilter::Known, new_unknown));
        assert!(visitor_matches(VisitorFilter::Unknown, new_unknown));
        assert!(visitor_matches(VisitorFilter::Any, new_unknown));
    }

    #[test]
    fn languages_match_the_primary_code() {
        let fr = vec!["fr".to_owned(), "de".to_owned()];
        assert!(language_matches(&fr, "fr-CA"));
        assert!(language_matches(&fr, "FR_be"));
        assert!(language_matches(&fr, "de"));
        assert!(!language_matches(&fr, "en-GB"));
        assert!(!language_matches(&fr, "fry"));
        assert!(!language_matches(&fr, ""));
        assert!(language_matches(&[], ""));
        assert!(language_matches(&[], "ja"));
    }

    #[test]
    fn business_hours_in_the_company_time_zone() {
        let settings = CompanySettings {
            timezone: "America/New_York".into(),
            ..CompanySettings::default()
        };
        // Monday 2027-03-01, 14:00 UTC = 09:00 in New York: open.
        let at = |h, m| Utc.with_ymd_and_hms(2027, 3, 1, h, m, 0).unwrap();
        assert!(is_open(&settings, at(14, 0)));
        // 13:59 UTC = 08:59 in New York: closed (though 9-to-5 in UTC would be open).
        assert!(!is_open(&settings, at(13, 59)));
        // 21:59 UTC = 16:59: open; 22:00 UTC = 17:00: closed.
        assert!(is_open(&settings, at(21, 59)));
        assert!(!is_open(&settings, at(22, 0)));
        // Saturday: closed all day.
        let saturday = Utc.with_ymd_and_hms(2027, 3, 6, 15, 0, 0).unwrap();
        assert!(!is_open(&settings, saturday));
        assert!(hours_match(HoursFilter::Closed, false));
        assert!(!hours_match(HoursFilter::Open, false));
    }

    #[test]
    fn holidays_are_closed_all_day_in_the_company_time_zone() {
        let settings = CompanySettings {
            timezone: "America/New_York".into(),
            holidays: vec!["2027-03-01".into(), "not a date".into()],
            ..CompanySettings::default()
        };
        // Monday 2027-03-01 15:00 UTC = 10:00 in New York, a holiday: closed.
        assert!(!is_open(
            &settings,
            Utc.with_ymd_and_hms(2027, 3, 1, 15, 0, 0).unwrap()
        ));
        // Tuesday, the same hour: open again.
        assert!(is_open(
            &settings,
            Utc.with_ymd_and_hms(2027, 3, 2, 15, 0, 0).unwrap()
        ));
        // 2027-03-02 03:00 UTC is still the holiday in New York (22:00 on the 1st).
        assert!(is_holiday(
            &settings.holidays,
            Utc.with_ymd_and_hms(2027, 3, 2, 3, 0, 0)
                .unwrap()
                .with_timezone(&chrono_tz::America::New_York)
                .date_naive()
        ));
        assert_eq!(parse_holiday("2026-02-30"), None);
    }

    #[test]
    fn overnight_ranges_run_past_midnight() {
        let mut hours = vec![vec!["22:00-02:00".to_string()]];
        hours.resize(7, vec![]);
        let settings = CompanySettings {
            business_hours: hours,
            ..CompanySettings::default()
        };
        let monday_23 = Utc.with_ymd_and_hms(2027, 3, 1, 23, 0, 0).unwrap();
        let tuesday_01 = Utc.with_ymd_and_hms(2027, 3, 2, 1, 0, 0).unwrap();
        let tuesday_03 = Utc.with_ymd_and_hms(2027, 3, 2, 3, 0, 0).unwrap();
        assert!(is_open(&settings, monday_23));
        assert!(is_open(&settings, tuesday_01));
        assert!(!is_open(&settings, tuesday_03));
    }

    #[test]
    fn keywords_are_whole_words() {
        let k = vec!["pricing".to_string(), "opening hours".to_string()];
        assert!(keywords_match(&k, "What is your PRICING?"));
        assert!(keywords_match(&k, "your opening  hours, please"));
        assert!(!keywords_match(&k, "hours of opening"));
        assert!(!keywords_match(&k, "repricing"));
        assert!(!keywords_match(&[String::from("  ")], "anything"));
    }
}
