//! The playbook as a graph of card indices, and the analyses the validator runs on it:
//! reachability, loops that never wait, and which variables may or must be set on arrival
//! at each card (fixpoint dataflow, linear in the size of the graph for practical
//! playbooks — no path enumeration).

use std::collections::{HashMap, VecDeque};

use super::edges::EdgeSpec;
use super::varset::VarSet;

/// A resolved transition.
#[derive(Debug, Clone)]
pub struct Edge {
    pub to: usize,
    /// Position of the transition among the card's [`EdgeSpec`]s.
    pub spec: usize,
    pub saves: Vec<usize>,
    pub certain: bool,
    pub clears: Vec<usize>,
}

/// Cards as nodes `0..n`, transitions as edges, saved variables interned.
#[derive(Debug, Default)]
pub struct Graph<'a> {
    pub succ: Vec<Vec<Edge>>,
    vars: HashMap<&'a str, usize>,
}

impl<'a> Graph<'a> {
    /// Build from each card's transitions; transitions to unknown cards are left out.
    pub fn build(edges: &[Vec<EdgeSpec<'a>>], index_of: &HashMap<&str, usize>) -> Graph<'a> {
        let mut graph = Graph::default();
        for card_edges in edges {
            let mut out = Vec::with_capacity(card_edges.len());
            for (spec, e) in card_edges.iter().enumerate() {
                let Some(&to) = index_of.get(e.target) else {
                    continue;
                };
                let saves = e.saves.iter().map(|v| graph.intern(v)).collect();
                let clears = e.clears.iter().map(|v| graph.intern(v)).collect();
                out.push(Edge {
                    to,
                    spec,
                    saves,
                    certain: e.certain,
                    clears,
                });
            }
            graph.succ.push(out);
        }
        graph
    }

    fn intern(&mut self, var: &'a str) -> usize {
        let next = self.vars.len();
        *self.vars.entry(var).or_insert(next)
    }

    /// The number of a variable some transition saves or clears.
    pub fn var(&self, name: &str) -> Option<usize> {
        self.vars.get(name).copied()
    }

    fn var_count(&self) -> usize {
        self.vars.len()
    }

    /// Which nodes some path from `start` reaches.
    pub fn reachable(&self, start: usize) -> Vec<bool> {
        let mut seen = vec![false; self.succ.len()];
        let mut queue = vec![start];
        seen[start] = true;
        while let Some(u) = queue.pop() {
            for e in &self.succ[u] {
                if !seen[e.to] {
                    seen[e.to] = true;
                    queue.push(e.to);
                }
            }
        }
        seen
    }

    /// Groups of nodes that form loops using only nodes for which `waits` is false
    /// (strongly connected components with a cycle), each sorted, in node order.
    pub fn silent_loops(&self, waits: &[bool]) -> Vec<Vec<usize>> {
        let n = self.succ.len();
        const NONE: usize = usize::MAX;
        let mut index = vec![NONE; n];
        let mut low = vec![0; n];
        let mut on_stack = vec![false; n];
        let mut stack = Vec::new();
        let mut next_index = 0;
        let mut loops = Vec::new();
        for root in 0..n {
            if waits[root] || index[root] != NONE {
                continue;
            }
            let mut calls: Vec<(usize, usize)> = vec![(root, 0)];
            index[root] = next_index;
            low[root] = next_index;
            next_index += 1;
            stack.push(root);
            on_stack[root] = true;
            while let Some(&mut (v, ref mut next_edge)) = calls.last_mut() {
                if let Some(e) = self.succ[v].get(*next_edge) {
                    *next_edge += 1;
                    let w = e.to;
                    if waits[w] {
                        continue;
                    }
                    if index[w] == NONE {
                        index[w] = next_index;
                        low[w] = next_index;
                        next_index += 1;
                        stack.push(w);
                        on_stack[w] = true;
                        calls.push((w, 0));
                    } else if on_stack[w] {
                        low[v] = low[v].min(index[w]);
                    }
                    continue;
                }
                calls.pop();
                if let Some(&(parent, _)) = calls.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut component = Vec::new();
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        component.push(w);
                        if w == v {
                            break;
                        }
                    }
                    let self_loop = self.succ[v].iter().any(|e| e.to == v);
                    if component.len() > 1 || self_loop {
                        component.sort_unstable();
                        loops.push(component);
                    }
                }
            }
        }
        loops.sort();
        loops
    }

    /// Variables that are set on arrival at each node on at least one path from `start`.
    pub fn may_be_set(&self, start: usize) -> Vec<VarSet> {
        let n = self.succ.len();
        let size = self.var_count();
        let mut arriving = vec![VarSet::empty(size); n];
        let mut visited = vec![false; n];
        let mut queued = vec![false; n];
        let mut work = VecDeque::from([start]);
        visited[start] = true;
        queued[start] = true;
        while let Some(u) = work.pop_front() {
            queued[u] = false;
            for e in &self.succ[u] {
                let mut out = arriving[u].clone();
                apply(&mut out, e, true);
                let grew = arriving[e.to].union_with(&out);
                if (grew || !visited[e.to]) && !queued[e.to] {
                    visited[e.to] = true;
                    queued[e.to] = true;
                    work.push_back(e.to);
                }
            }
        }
        arriving
    }

    /// Variables that are set on arrival at each node on every path from `start`.
    /// Nodes no path reaches get every variable.
    pub fn must_be_set(&self, start: usize) -> Vec<VarSet> {
        let n = self.succ.len();
        let size = self.var_count();
        let mut arriving = vec![VarSet::full(size); n];
        arriving[start] = VarSet::empty(size);
        let mut visited = vec![false; n];
        let mut queued = vec![false; n];
        let mut work = VecDeque::from([start]);
        visited[start] = true;
        queued[start] = true;
        while let Some(u) = work.pop_front() {
            queued[u] = false;
            for e in &self.succ[u] {
                let mut out = arriving[u].clone();
                apply(&mut out, e, e.certain);
                let shrank = arriving[e.to].intersect_with(&out);
                if (shrank || !visited[e.to]) && !queued[e.to] {
                    visited[e.to] = true;
                    queued[e.to] = true;
                    work.push_back(e.to);
                }
            }
        }
        arriving
    }

    /// A shortest path from `start` to `goal` that takes no edge for which `blocked`
    /// holds, as the edges taken: (from node, edge).
    pub fn path_avoiding(
        &self,
        start: usize,
        goal: usize,
        blocked: impl Fn(&Edge) -> bool,
    ) -> Option<Vec<(usize, &Edge)>> {
        let n = self.succ.len();
        let mut came_from: Vec<Option<(usize, &Edge)>> = vec![None; n];
        let mut seen = vec![false; n];
        let mut queue = VecDeque::from([start]);
        seen[start] = true;
        while let Some(u) = queue.pop_front() {
            if u == goal {
                let mut path = Vec::new();
                let mut at = goal;
                while let Some((from, edge)) = came_from[at] {
                    path.push((from, edge));
                    at = from;
                }
                path.reverse();
                return Some(path);
            }
            for e in &self.succ[u] {
                if !seen[e.to] && !blocked(e) {
                    seen[e.to] = true;
                    came_from[e.to] = Some((u, e));
                    queue.push_back(e.to);
                }
            }
        }
        None
    }
}

/// What taking `edge` does to the set of variables; `saves` apply when `with_saves`.
fn apply(set: &mut VarSet, edge: &Edge, with_saves: bool) {
    for &v in &edge.clears {
        set.remove(v);
    }
    if with_saves {
        for &v in &edge.saves {
            set.insert(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(to: usize) -> Edge {
        Edge {
            to,
            spec: 0,
            saves: Vec::new(),
            certain: true,
            clears: Vec::new(),
        }
    }

    fn graph(succ: Vec<Vec<usize>>) -> Graph<'static> {
        Graph {
            succ: succ
                .into_iter()
                .map(|s| s.into_iter().map(edge).collect())
                .collect(),
            vars: HashMap::new(),
        }
    }

    #[test]
    fn loops_that_never_wait() {
        // 0 → 1 → 2 → 1, 2 → 3 → 3, 4 → 0 (4 waits)
        let g = graph(vec![vec![1], vec![2], vec![1, 3], vec![3], vec![0]]);
        assert_eq!(g.silent_loops(&[false; 5]), [vec![1, 2], vec![3]]);
        assert_eq!(
            g.silent_loops(&[false, true, false, false, false]),
            [vec![3]]
        );
        assert_eq!(g.reachable(1), [false, true, true, true, false]);
    }

    #[test]
    fn may_and_must_differ_on_a_branch() {
        // 0 → 1 (saves a) → 3, 0 → 2 → 3
        let mut g = graph(vec![vec![1, 2], vec![3], vec![3], vec![]]);
        g.vars.insert("a", 0);
        g.succ[1][0].saves = vec![0];
        let may = g.may_be_set(0);
        let must = g.must_be_set(0);
        assert!(may[3].contains(0));
        assert!(!must[3].contains(0));
        g.succ[2][0].saves = vec![0];
        assert!(g.must_be_set(0)[3].contains(0));
        g.succ[2][0].certain = false;
        assert!(!g.must_be_set(0)[3].contains(0));
        assert!(g.may_be_set(0)[3].contains(0));
        let certain_save = |e: &Edge| e.certain && !e.saves.is_empty();
        let path = g.path_avoiding(0, 3, certain_save).unwrap();
        let nodes: Vec<(usize, usize)> = path.iter().map(|(from, e)| (*from, e.to)).collect();
        assert_eq!(nodes, [(0, 2), (2, 3)]);
        g.succ[2][0].certain = true;
        assert!(g.path_avoiding(0, 3, certain_save).is_none());
        assert_eq!(
            g.path_avoiding(0, 0, certain_save).map(|p| p.len()),
            Some(0)
        );
    }
}
