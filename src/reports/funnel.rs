//! The funnel of cards (how many conversations reached each card, where they left) and
//! the answers to buttons cards.

use serde::Serialize;
use utoipa::ToSchema;

use super::StoppedRow;
use crate::db::analytics::rollup::Daily;
use crate::db::analytics::{kind, left};
use crate::playbook::{CardKind, Playbook};

/// One card of the funnel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FunnelCard {
    pub card: String,
    /// The card's `type` ("" for a card the current document no longer has).
    pub card_type: String,
    /// Arrivals at the card.
    pub reached: i64,
    /// Left here with the widget's close button.
    pub left_closed: i64,
    /// Left here with an exit word.
    pub left_exit_word: i64,
    /// Still waiting here, the visitor silent for 30 minutes or more.
    pub stopped_answering: i64,
}

/// A buttons card and how often each option was pressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AnswerCard {
    pub card: String,
    pub options: Vec<AnswerOption>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AnswerOption {
    pub index: i64,
    pub label: String,
    pub count: i64,
}

/// Cards in the document's order, then any others the events name.
fn card_order(document: Option<&Playbook>, named: impl Iterator<Item = String>) -> Vec<String> {
    let mut cards: Vec<String> = document
        .map(|d| d.cards.iter().map(|c| c.id.clone()).collect())
        .unwrap_or_default();
    for card in named {
        if !card.is_empty() && !cards.contains(&card) {
            cards.push(card);
        }
    }
    cards
}

pub(super) fn funnel(
    document: Option<&Playbook>,
    daily: &[&Daily],
    stopped: &[&StoppedRow],
) -> Vec<FunnelCard> {
    let named = daily
        .iter()
        .filter(|d| d.kind == kind::REACHED || d.kind == kind::LEFT)
        .map(|d| d.card.clone())
        .chain(stopped.iter().map(|s| s.card.clone()));
    let count = |card: &str, k: &str, value: Option<i64>| -> i64 {
        daily
            .iter()
            .filter(|d| d.card == card && d.kind == k && value.is_none_or(|v| d.value == v))
            .map(|d| d.count)
            .sum()
    };
    card_order(document, named)
        .into_iter()
        .map(|card| FunnelCard {
            card_type: document
                .and_then(|d| d.card(&card))
                .map(|c| c.kind.type_name().to_owned())
                .unwrap_or_default(),
            reached: count(&card, kind::REACHED, None),
            left_closed: count(&card, kind::LEFT, Some(left::CLOSED)),
            left_exit_word: count(&card, kind::LEFT, Some(left::EXIT_WORD)),
            stopped_answering: stopped.iter().filter(|s| s.card == card).count() as i64,
            card,
        })
        .collect()
}

pub(super) fn answers(document: Option<&Playbook>, daily: &[&Daily]) -> Vec<AnswerCard> {
    let answered = daily.iter().filter(|d| d.kind == kind::ANSWER);
    card_order(document, answered.clone().map(|d| d.card.clone()))
        .into_iter()
        .filter_map(|card| {
            let labels: Vec<String> = match document.and_then(|d| d.card(&card)).map(|c| &c.kind) {
                Some(CardKind::Buttons(b)) => b.options.iter().map(|o| o.label.clone()).collect(),
                Some(_) => return None,
                None => Vec::new(),
            };
            let mut options: Vec<AnswerOption> = labels
                .iter()
                .enumerate()
                .map(|(i, label)| AnswerOption {
                    index: i as i64,
                    label: label.clone(),
                    count: 0,
                })
                .collect();
            for d in answered.clone().filter(|d| d.card == card) {
                match options.iter_mut().find(|o| o.index == d.value) {
                    Some(o) => o.count += d.count,
                    None => options.push(AnswerOption {
                        index: d.value,
                        label: format!("option {}", d.value + 1),
                        count: d.count,
                    }),
                }
            }
            options.sort_by_key(|o| o.index);
            Some(AnswerCard { card, options })
        })
        .collect()
}
