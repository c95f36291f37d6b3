//! A playbook's trigger and targeting in words, for the playbook list.

use crate::playbook::model::{HoursFilter, Trigger, TriggerOn, VisitorFilter};

/// "Page load after 5 s · pages /pricing* · new visitors · during business hours".
pub fn describe_trigger(t: &Trigger) -> String {
    let mut parts = vec![match t.on {
        TriggerOn::PageLoad => match t.delay_seconds {
            Some(s) if s > 0 => format!("page load, after {s} s"),
            _ => "page load".to_owned(),
        },
        TriggerOn::TimeOnPage => format!("after {} s on the page", t.delay_seconds.unwrap_or(0)),
        TriggerOn::Click => format!(
            "click on {}",
            t.selector.as_deref().unwrap_or("(no selector)")
        ),
        TriggerOn::Keyword => format!("the visitor writes {}", quoted(&t.keywords, " or ")),
    }];
    if !t.urls.include.is_empty() {
        parts.push(format!("pages {}", t.urls.include.join(", ")));
    }
    if !t.urls.exclude.is_empty() {
        parts.push(format!("not on {}", t.urls.exclude.join(", ")));
    }
    parts.push(
        match t.visitors {
            VisitorFilter::Any => "every visitor",
            VisitorFilter::New => "new visitors",
            VisitorFilter::Returning => "returning visitors",
            VisitorFilter::Known => "known visitors",
            VisitorFilter::Unknown => "unknown visitors",
        }
        .to_owned(),
    );
    if !t.languages.is_empty() {
        parts.push(format!("speaking {}", t.languages.join(", ")));
    }
    match t.hours {
        HoursFilter::Any => {}
        HoursFilter::Open => parts.push("during business hours".into()),
        HoursFilter::Closed => parts.push("outside business hours".into()),
    }
    parts.join(" · ")
}

fn quoted(words: &[String], sep: &str) -> String {
    if words.is_empty() {
        return "(no keywords)".into();
    }
    words
        .iter()
        .map(|w| format!("\"{w}\""))
        .collect::<Vec<_>>()
        .join(sep)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::model::UrlRules;

    #[test]
    fn reads_like_a_sentence() {
        let t = Trigger {
            on: TriggerOn::TimeOnPage,
            delay_seconds: Some(5),
            selector: None,
            keywords: vec![],
            urls: UrlRules {
                include: vec!["/pricing*".into()],
                exclude: vec![],
            },
            visitors: VisitorFilter::New,
            languages: vec![],
            hours: HoursFilter::Open,
        };
        assert_eq!(
            describe_trigger(&t),
            "after 5 s on the page · pages /pricing* · new visitors · during business hours"
        );
        let french = Trigger {
            languages: vec!["fr".into(), "de".into()],
            ..t
        };
        assert_eq!(
            describe_trigger(&french),
            "after 5 s on the page · pages /pricing* · new visitors · speaking fr, de · during \
             business hours"
        );
    }
}
