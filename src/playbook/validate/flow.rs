//! Rules about the flow as a whole: reachability, loops that never wait, an ending in
//! reach, the person's identity before a capture, and the sources of template variables.

use std::collections::HashMap;

use crate::playbook::model::CardKind;

use super::edges::{EdgeSpec, Field};
use super::graph::{Edge, Graph};
use super::templates::{self, TemplateUse};
use super::{CardRef, Problem};

/// Variables that identify the person a capture writes to the CRM.
const IDENTITY: [&str; 3] = ["person.email", "person.phone", "person.name"];

/// Everything the flow rules look at. Node `i` is `cards[i]`.
pub struct Flow<'a, 'b> {
    pub start: usize,
    pub cards: &'b [CardRef<'a>],
    pub edges: &'b [Vec<EdgeSpec<'a>>],
    pub index_of: &'b HashMap<&'a str, usize>,
    pub templates: &'b [Vec<TemplateUse<'a>>],
    /// Cards whose id an earlier card already has (left out of the reachability report).
    pub duplicate: &'b [bool],
}

/// Run the flow rules.
pub fn check(flow: &Flow<'_, '_>, problems: &mut Vec<Problem>) {
    let graph = Graph::build(flow.edges, flow.index_of);
    let reachable = graph.reachable(flow.start);

    for (node, card) in flow.cards.iter().enumerate() {
        if !reachable[node] && !flow.duplicate[node] {
            problems.push(card.problem("", "no path from start reaches this card"));
        }
    }

    let waits: Vec<bool> = flow
        .cards
        .iter()
        .map(|c| c.card.kind.waits_for_visitor())
        .collect();
    for members in graph.silent_loops(&waits) {
        let first = flow.cards[members[0]];
        let message = if members.len() == 1 {
            "this card leads back to itself without waiting for the visitor".to_owned()
        } else {
            let names: Vec<String> = members
                .iter()
                .map(|&m| format!("'{}'", flow.cards[m].card.id))
                .collect();
            format!(
                "cards {} form a loop on which no card waits for the visitor (add a question \
                 or buttons card to it)",
                names.join(", ")
            )
        };
        problems.push(first.problem("", message));
    }

    let ends = flow.cards.iter().enumerate().any(|(node, c)| {
        reachable[node] && matches!(c.card.kind, CardKind::End(_) | CardKind::Redirect(_))
    });
    if !ends {
        problems.push(Problem::playbook(
            "/start",
            "no end or redirect card can be reached from start",
        ));
    }

    identity_before_capture(flow, &graph, &reachable, problems);

    let may = graph.may_be_set(flow.start);
    for (node, card) in flow.cards.iter().enumerate() {
        if reachable[node] {
            templates::check_sources(*card, &flow.templates[node], &may[node], &graph, problems);
        }
    }
}

/// A capture needs the person's e-mail, phone or name saved on every path that reaches it.
fn identity_before_capture(
    flow: &Flow<'_, '_>,
    graph: &Graph<'_>,
    reachable: &[bool],
    problems: &mut Vec<Problem>,
) {
    let ids: Vec<usize> = IDENTITY.iter().filter_map(|v| graph.var(v)).collect();
    let witnesses = graph.paths_missing_all(flow.start, &ids);
    for (node, card) in flow.cards.iter().enumerate() {
        if !reachable[node] || !matches!(card.card.kind, CardKind::Capture(_)) {
            continue;
        }
        let Some(path) = witnesses.path_to(node) else {
            continue;
        };
        let steps: Vec<String> = path
            .iter()
            .map(|&(from, edge)| describe_step(flow, from, edge))
            .chain(std::iter::once(card.card.id.clone()))
            .collect();
        problems.push(card.problem(
            "",
            format!(
                "capture is reached by a path on which neither person.email, person.phone \
                 nor person.name is saved: {}",
                steps.join(" → ")
            ),
        ));
    }
}

/// A card on a witness path, with the branch taken when that is not the plain `next`.
fn describe_step(flow: &Flow<'_, '_>, from: usize, edge: &Edge) -> String {
    let card = &flow.cards[from].card;
    let spec = &flow.edges[from][edge.spec];
    let how = match (&card.kind, spec.field) {
        (CardKind::Question(q), Field::Plain("next")) if !spec.certain => {
            format!(" (after {} invalid answers)", q.max_tries())
        }
        (CardKind::Http(_), Field::Plain("next")) if !spec.certain => {
            " (when the call fails)".to_owned()
        }
        (_, Field::Plain("next")) => String::new(),
        (_, field) => format!(" ({})", field.name()),
    };
    format!("{}{how}", card.id)
}
