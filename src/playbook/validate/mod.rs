//! The playbook validator: every rule of the format reference (`docs/PLAYBOOKS.md`),
//! each problem naming its card and the JSON pointer of the field it is about.
//!
//! Rules about one card or the top level run on whatever could be loaded; the flow rules
//! (reachability, loops, endings, identity before a capture, template sources) need every
//! card and run only when the whole document could be decoded. The flow rules are fixpoint
//! dataflow over the card graph, so a 200-card playbook validates in well under a
//! millisecond.

mod cards;
mod edges;
mod flow;
mod graph;
mod templates;
mod top;
mod varset;

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use super::load::{Loaded, closest};
use super::model::{Card, MAX_CARDS, Playbook};
pub use super::problem::Problem;

/// Every problem of a playbook; empty when it is valid.
pub fn validate(pb: &Playbook) -> Vec<Problem> {
    let cards: Vec<CardRef<'_>> = pb
        .cards
        .iter()
        .enumerate()
        .map(|(index, card)| CardRef { index, card })
        .collect();
    run(Some(pb), &cards, &[], pb.cards.len(), true)
}

/// The problems of what could be loaded from a document (load problems not included).
///
/// The flow rules run only when the whole document could be decoded; problems about
/// values that were dropped as invalid (already reported) are left out.
pub fn validate_loaded(loaded: &Loaded) -> Vec<Problem> {
    let cards: Vec<CardRef<'_>> = loaded
        .cards
        .iter()
        .map(|(index, card)| CardRef {
            index: *index,
            card,
        })
        .collect();
    let mut problems = run(
        loaded.header.as_ref(),
        &cards,
        &loaded.broken_ids,
        loaded.card_count,
        loaded.is_complete(),
    );
    problems.retain(|p| {
        !loaded.dropped.iter().any(|d| {
            p.pointer
                .strip_prefix(d.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
    });
    problems
}

/// A card and its index in the document.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CardRef<'a> {
    pub index: usize,
    pub card: &'a Card,
}

impl CardRef<'_> {
    /// Pointer of a field of this card, relative like `options/1/next` (`""`: the card).
    fn pointer(&self, relative: &str) -> String {
        edges::field_pointer(self.index, relative)
    }

    fn problem(&self, relative: &str, message: impl Into<String>) -> Problem {
        Problem::card(&self.card.id, self.pointer(relative), message)
    }

    fn problem_at(&self, pointer: String, message: impl Into<String>) -> Problem {
        Problem::card(&self.card.id, pointer, message)
    }
}

fn run(
    header: Option<&Playbook>,
    cards: &[CardRef<'_>],
    broken_ids: &[String],
    card_count: usize,
    complete: bool,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    if let Some(pb) = header {
        top::check(pb, card_count, &mut problems);
    }

    let mut index_of: HashMap<&str, usize> = HashMap::with_capacity(cards.len());
    let mut duplicate = vec![false; cards.len()];
    for (node, c) in cards.iter().enumerate() {
        if c.card.id.trim().is_empty() {
            problems.push(c.problem("id", "card id is empty"));
        }
        match index_of.entry(&c.card.id) {
            Entry::Occupied(first) => {
                duplicate[node] = true;
                problems.push(c.problem(
                    "id",
                    format!(
                        "duplicate card id (card #{} has it too)",
                        cards[*first.get()].index + 1
                    ),
                ));
            }
            Entry::Vacant(slot) => {
                slot.insert(node);
            }
        }
    }
    let broken: HashSet<&str> = broken_ids.iter().map(String::as_str).collect();
    let exists = |id: &str| index_of.contains_key(id) || broken.contains(id);
    // Oversized documents get no suggestions: comparing every pair would take too long.
    let small = card_count <= MAX_CARDS;
    let unknown = |key: &str, id: &str| {
        let all = index_of.keys().chain(broken.iter()).copied();
        let hint = match small.then(|| closest(id, all)).flatten() {
            Some(s) => format!("; did you mean '{s}'?"),
            None => String::new(),
        };
        format!("{key} names unknown card '{id}'{hint}")
    };

    if let Some(pb) = header
        && !exists(&pb.start)
    {
        problems.push(Problem::playbook("/start", unknown("start", &pb.start)));
    }

    let mut all_edges = Vec::with_capacity(cards.len());
    let mut all_templates = Vec::with_capacity(cards.len());
    for c in cards {
        cards::check(*c, &mut problems);
        let card_edges = edges::edges(c.card);
        for e in &card_edges {
            if !exists(e.target) {
                problems.push(c.problem(&e.field.pointer(), unknown(&e.field.name(), e.target)));
            }
        }
        all_edges.push(card_edges);
        all_templates.push(templates::parse_all(*c, &mut problems));
    }

    // The flow rules need the whole playbook, and are not run on oversized ones.
    if let Some(pb) = header
        && complete
        && small
        && let Some(&start) = index_of.get(pb.start.as_str())
    {
        let flow = flow::Flow {
            start,
            cards,
            edges: &all_edges,
            index_of: &index_of,
            templates: &all_templates,
            duplicate: &duplicate,
        };
        flow::check(&flow, &mut problems);
    }
    problems
}

#[cfg(test)]
mod tests;
