//! What a capture row has done so far: the CRM id of every object created or found,
//! kept in the row's `result` JSON after each step, so a retry or a restart continues
//! where the last attempt stopped.

use serde::{Deserialize, Serialize};

/// The steps of a capture, in dependency order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Org,
    Person,
    LeadOrDeal,
    Activity,
    Note,
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::Org => "organization",
            Step::Person => "person",
            Step::LeadOrDeal => "lead or deal",
            Step::Activity => "activity",
            Step::Note => "note",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Progress {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lead_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deal_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activity_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note_id: Option<i64>,
    /// A create of this step was sent and its answer never recorded: the next attempt
    /// looks the object up before creating it again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unconfirmed: Option<Step>,
    /// A transcript note for the lead or deal that this other row of the conversation
    /// made: its CRM ids are taken over before the delivery starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes_for: Option<String>,
    /// Failed attempts since a step last succeeded: the exponent of the next backoff. A
    /// step that succeeds resets it, so one failure late in a capture waits as little as
    /// the first failure would.
    #[serde(skip_serializing_if = "is_zero")]
    pub failures: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Progress {
    /// The stored progress; a missing `result` is a fresh start. So is an unreadable one,
    /// on purpose and logged: a fresh start cannot duplicate anything (every create is
    /// then preceded by a look-up, since nothing is known to be absent), whereas refusing
    /// to go on would leave the capture undelivered.
    pub fn parse(result: Option<&str>) -> Progress {
        let Some(text) = result else {
            return Progress::default();
        };
        serde_json::from_str(text).unwrap_or_else(|e| {
            tracing::error!(error = %e, "unreadable outbox progress: starting over with look-ups");
            Progress::default()
        })
    }

    /// A step succeeded: the backoff starts over.
    pub fn step_succeeded(&mut self) {
        self.failures = 0;
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// Links to the created objects in the CRM's web app.
    pub fn links(&self, api_domain: &str) -> Vec<(&'static str, String)> {
        let base = api_domain.trim_end_matches('/');
        let mut links = Vec::new();
        if let Some(id) = self.person_id {
            links.push(("person", format!("{base}/person/{id}")));
        }
        if let Some(id) = self.org_id {
            links.push(("organization", format!("{base}/organization/{id}")));
        }
        if let Some(id) = &self.lead_id {
            links.push(("lead", format!("{base}/leads/inbox/{id}")));
        }
        if let Some(id) = self.deal_id {
            links.push(("deal", format!("{base}/deal/{id}")));
        }
        links
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_tolerates_garbage() {
        let p = Progress {
            person_id: Some(3),
            lead_id: Some("u-1".into()),
            unconfirmed: Some(Step::Activity),
            failures: 2,
            ..Progress::default()
        };
        assert_eq!(Progress::parse(Some(&p.to_json())), p);
        assert!(!Progress::default().to_json().contains("failures"));
        assert_eq!(Progress::parse(Some("not json")), Progress::default());
        assert_eq!(Progress::parse(None), Progress::default());
    }

    #[test]
    fn links_point_into_the_crm() {
        let p = Progress {
            person_id: Some(3),
            lead_id: Some("u-1".into()),
            ..Progress::default()
        };
        assert_eq!(
            p.links("https://acme.pipedrive.com/"),
            vec![
                ("person", "https://acme.pipedrive.com/person/3".to_owned()),
                (
                    "lead",
                    "https://acme.pipedrive.com/leads/inbox/u-1".to_owned()
                ),
            ]
        );
    }
}
