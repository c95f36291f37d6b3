//! A conversation's flow as stored in `conversations.engine_state`, and the variables a
//! flow starts with. Pure.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::db::visitors::{Page, Visitor};
use crate::db::{DbError, stored_json};
use crate::playbook::{Phase, State};

/// What `conversations.engine_state` holds: the engine's state plus what the turn code
/// needs to count analytics once per run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FlowState {
    pub state: State,
    /// The visitor answered this run at least once (counted as engaged).
    pub engaged: bool,
}

impl FlowState {
    /// Read the stored JSON of conversation `id`. Unreadable JSON is an error naming the
    /// conversation (never a flow that starts over).
    pub fn read(id: &str, json: &str) -> Result<FlowState, DbError> {
        stored_json("conversations", id, "engine_state", json)
    }

    pub fn to_json(&self) -> String {
        // Serialising plain data into a string cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// A fresh run of a playbook that keeps what the conversation learned so far.
    pub fn restart(&self) -> FlowState {
        FlowState {
            state: State {
                vars: self.state.vars.clone(),
                ..State::default()
            },
            engaged: false,
        }
    }

    /// Is the flow waiting for something (the visitor, a rep, an http call)?
    pub fn is_waiting(&self) -> bool {
        matches!(
            self.state.phase,
            Phase::AwaitingInput | Phase::AwaitingRep | Phase::AwaitingHttp
        )
    }

    /// Is a flow under way (waiting, or handed to a rep)? A trigger does not interrupt it.
    pub fn is_running(&self) -> bool {
        self.is_waiting() || self.state.phase == Phase::WithRep
    }
}

/// The `visitor.*` variables (and `person.*` of an identified visitor not yet known to the
/// conversation) a flow starts with.
pub fn visitor_vars(visitor: &Visitor, page: &Page, state: &State) -> Vec<(String, Value)> {
    let mut vars: Vec<(String, Value)> = vec![
        ("visitor.url".into(), page.url.clone().into()),
        ("visitor.referrer".into(), page.referrer.clone().into()),
        ("visitor.language".into(), page.language.clone().into()),
        ("visitor.returning".into(), visitor.returning().into()),
        ("visitor.known".into(), visitor.known.into()),
    ];
    let query: Vec<(String, String)> = url::Url::parse(&page.url)
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default();
    for tag in ["source", "medium", "campaign", "term", "content"] {
        let value = query
            .iter()
            .find(|(k, _)| *k == format!("utm_{tag}"))
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        vars.push((format!("visitor.utm_{tag}"), value.into()));
    }
    for (path, value) in [
        ("person.email", &visitor.email),
        ("person.name", &visitor.name),
    ] {
        if let Some(v) = value
            && !state.vars.is_set(path)
        {
            vars.push((path.into(), v.clone().into()));
        }
    }
    vars
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utm_tags_and_identity_seed_the_flow() {
        let visitor = Visitor {
            id: "v".into(),
            company_id: "c".into(),
            email: Some("ann@acme.test".into()),
            name: None,
            known: true,
            visits: 2,
            attributes: "{}".into(),
            first_seen_at: 0,
            last_seen_at: 0,
        };
        let page = Page {
            url: "https://acme.test/pricing?utm_source=news&utm_campaign=spring".into(),
            language: "en-GB".into(),
            ..Page::default()
        };
        let vars = visitor_vars(&visitor, &page, &State::default());
        let get = |p: &str| vars.iter().find(|(k, _)| k == p).map(|(_, v)| v.clone());
        assert_eq!(get("visitor.utm_source"), Some("news".into()));
        assert_eq!(get("visitor.utm_campaign"), Some("spring".into()));
        assert_eq!(get("visitor.utm_medium"), Some("".into()));
        assert_eq!(get("visitor.returning"), Some(true.into()));
        assert_eq!(get("person.email"), Some("ann@acme.test".into()));
        assert_eq!(get("person.name"), None);
    }

    #[test]
    fn an_empty_state_is_a_fresh_flow_and_unreadable_state_an_error() {
        let flow = FlowState::read("c", "{}").unwrap();
        assert_eq!(flow.state.phase, Phase::Idle);
        assert!(!flow.is_running());
        assert_eq!(FlowState::read("c", &flow.to_json()).unwrap(), flow);
        let err = FlowState::read("c1", "{not json").unwrap_err();
        assert!(
            matches!(&err, DbError::Corrupt(m) if m.contains("c1")),
            "{err}"
        );
        assert!(FlowState::read("c1", r#"{"state": 7}"#).is_err());
    }
}
