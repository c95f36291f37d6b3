//! Deals in the CRM: value won per currency (amounts in different currencies are never
//! added up) and the deals won and lost per path of cards that led to them.

use serde::Serialize;
use utoipa::ToSchema;

use super::{OutcomeRow, PathRow};
use crate::db::outcomes::status;

/// An amount in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Money {
    /// The CRM's currency code ("" when the CRM named none).
    pub currency: String,
    /// Hundredths of the currency's unit.
    pub cents: i64,
}

/// The deals of the conversations that went one way through the playbook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DealPath {
    /// The cards in the order the conversation reached them (a card reached again at once,
    /// as a question asked again, is written once).
    pub cards: Vec<String>,
    pub deals_won: i64,
    pub deals_lost: i64,
    /// Value of the deals won, per currency.
    pub value_won: Vec<Money>,
}

/// The value of these deals per currency, by currency code.
pub(super) fn value_won(won: &[&OutcomeRow]) -> Vec<Money> {
    let mut out: Vec<Money> = Vec::new();
    for o in won {
        match out.iter_mut().find(|m| m.currency == o.currency) {
            Some(m) => m.cents += o.value_cents,
            None => out.push(Money {
                currency: o.currency.clone(),
                cents: o.value_cents,
            }),
        }
    }
    out.sort_by(|a, b| a.currency.cmp(&b.currency));
    out
}

/// The path of a conversation, consecutive repeats written once.
fn path_of(paths: &[PathRow], conversation_id: &str) -> Vec<String> {
    let mut cards: Vec<String> = Vec::new();
    let reached = paths
        .iter()
        .find(|p| p.conversation_id == conversation_id)
        .map_or(&[][..], |p| p.cards.as_slice());
    for card in reached {
        if cards.last() != Some(card) {
            cards.push(card.clone());
        }
    }
    cards
}

/// Deals won and lost per path (open and deleted deals are not counted), most deals won
/// first, then most lost, then by path.
pub(super) fn paths(outcomes: &[&OutcomeRow], paths: &[PathRow]) -> Vec<DealPath> {
    let mut grouped: Vec<(Vec<String>, Vec<&OutcomeRow>)> = Vec::new();
    for o in outcomes
        .iter()
        .copied()
        .filter(|o| o.status == status::WON || o.status == status::LOST)
    {
        let cards = path_of(paths, &o.conversation_id);
        match grouped.iter_mut().find(|(c, _)| *c == cards) {
            Some((_, deals)) => deals.push(o),
            None => grouped.push((cards, vec![o])),
        }
    }
    let mut out: Vec<DealPath> = grouped
        .into_iter()
        .map(|(cards, deals)| {
            let won: Vec<&OutcomeRow> = deals
                .iter()
                .copied()
                .filter(|o| o.status == status::WON)
                .collect();
            DealPath {
                cards,
                deals_won: won.len() as i64,
                deals_lost: (deals.len() - won.len()) as i64,
                value_won: value_won(&won),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.deals_won
            .cmp(&a.deals_won)
            .then(b.deals_lost.cmp(&a.deals_lost))
            .then_with(|| a.cards.cmp(&b.cards))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deal(conv: &str, status: &str, cents: i64, currency: &str) -> OutcomeRow {
        OutcomeRow {
            conversation_id: conv.into(),
            status: status.into(),
            value_cents: cents,
            currency: currency.into(),
            version: 1,
            known: false,
            returning: false,
        }
    }

    fn path(conv: &str, cards: &[&str]) -> PathRow {
        PathRow {
            conversation_id: conv.into(),
            cards: cards.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    #[test]
    fn currencies_are_never_added_up() {
        let rows = [
            deal("a", "won", 10_000, "EUR"),
            deal("b", "won", 5_000, "USD"),
            deal("c", "won", 2_500, "EUR"),
        ];
        let won: Vec<&OutcomeRow> = rows.iter().collect();
        assert_eq!(
            value_won(&won),
            vec![
                Money {
                    currency: "EUR".into(),
                    cents: 12_500
                },
                Money {
                    currency: "USD".into(),
                    cents: 5_000
                },
            ]
        );
    }

    #[test]
    fn deals_are_grouped_by_the_path_that_led_to_them() {
        let rows = [
            deal("a", "won", 10_000, "EUR"),
            deal("b", "lost", 7_000, "EUR"),
            deal("c", "won", 3_000, "USD"),
            deal("d", "open", 1_000, "EUR"),
            deal("e", "won", 500, "EUR"),
        ];
        let outcomes: Vec<&OutcomeRow> = rows.iter().collect();
        let reached = [
            path("a", &["size", "email", "email", "bye"]),
            path("b", &["size", "email", "bye"]),
            path("c", &["size", "talk"]),
            path("d", &["size", "email", "bye"]),
            path("e", &["size", "email", "bye"]),
        ];
        let by_path = paths(&outcomes, &reached);
        let cards = |p: &DealPath| p.cards.join(" ");
        assert_eq!(by_path.len(), 2, "{by_path:#?}");
        assert_eq!(cards(&by_path[0]), "size email bye");
        assert_eq!((by_path[0].deals_won, by_path[0].deals_lost), (2, 1));
        assert_eq!(
            by_path[0].value_won,
            vec![Money {
                currency: "EUR".into(),
                cents: 10_500
            }]
        );
        assert_eq!(cards(&by_path[1]), "size talk");
        assert_eq!(by_path[1].value_won[0].currency, "USD");
    }
}
