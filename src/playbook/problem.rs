//! One thing wrong with a playbook.

use serde::Serialize;

/// A problem found while loading or validating a playbook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The id of the card the problem is about; `None` for the playbook as a whole.
    pub card: Option<String>,
    /// JSON pointer of the offending field (or of the nearest thing that exists).
    pub pointer: String,
    pub message: String,
}

impl Problem {
    /// A problem about the playbook as a whole.
    pub fn playbook(pointer: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            card: None,
            pointer: pointer.into(),
            message: message.into(),
        }
    }

    /// A problem about one card.
    pub fn card(
        id: impl Into<String>,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) -> Problem {
        Problem {
            card: Some(id.into()),
            pointer: pointer.into(),
            message: message.into(),
        }
    }

    /// Who the problem is about, as reports write it: `card 'ID'` or `playbook`.
    pub fn subject(&self) -> String {
        match &self.card {
            Some(id) => format!("card '{id}'"),
            None => "playbook".to_owned(),
        }
    }
}
