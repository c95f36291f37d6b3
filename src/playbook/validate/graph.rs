//! The playbook as a graph of card indices, and the analyses the validator runs on it:
//! reachability, loops that never wait, which variables may be set on arrival at each
//! card (fixpoint dataflow), and paths on which none of some variables is set (search
//! over a small product graph). No path enumeration: all linear in practice.

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
        let mut out = VarSet::empty(size);
        while let Some(u) = work.pop_front() {
            queued[u] = false;
            for e in &self.succ[u] {
                out.copy_from(&arriving[u]);
                apply(&mut out, e);
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

    /// For each node, a shortest path from `start` that arrives there with none of
    /// `tracked` (at most 8 variables) certainly set, if there is one.
    ///
    /// A breadth-first search over (node, which tracked variables are set) states: exact,
    /// and linear in the size of the graph.
    pub fn paths_missing_all(&self, start: usize, tracked: &[usize]) -> Witnesses<'_> {
        let tracked = &tracked[..tracked.len().min(8)];
        let masks = 1usize << tracked.len();
        let bits = |vars: &[usize]| {
            tracked
                .iter()
                .enumerate()
                .filter(|(_, v)| vars.contains(v))
                .fold(0usize, |m, (i, _)| m | 1 << i)
        };
        let n = self.succ.len();
        let mut parent: Vec<Option<(usize, &Edge)>> = vec![None; n * masks];
        let mut seen = vec![false; n * masks];
        let state = |node: usize, mask: usize| node * masks + mask;
        let mut queue = VecDeque::from([(start, 0usize)]);
        seen[state(start, 0)] = true;
        while let Some((u, mask)) = queue.pop_front() {
            for e in &self.succ[u] {
                let saved = if e.certain { bits(&e.saves) } else { 0 };
                let next = (mask & !bits(&e.clears)) | saved;
                let s = state(e.to, next);
                if !seen[s] {
                    seen[s] = true;
                    parent[s] = Some((state(u, mask), e));
                    queue.push_back((e.to, next));
                }
            }
        }
        Witnesses {
            masks,
            start: state(start, 0),
            seen,
            parent,
        }
    }
}

/// The result of [`Graph::paths_missing_all`].
pub struct Witnesses<'g> {
    masks: usize,
    start: usize,
    seen: Vec<bool>,
    parent: Vec<Option<(usize, &'g Edge)>>,
}

impl<'g> Witnesses<'g> {
    /// The path to `node` on which none of the tracked variables is set, as the edges
    /// taken: (from node, edge).
    pub fn path_to(&self, node: usize) -> Option<Vec<(usize, &'g Edge)>> {
        let mut at = node * self.masks;
        if !self.seen[at] {
            return None;
        }
        let mut path = Vec::new();
        while at != self.start {
            let (from, edge) = self.parent[at]?;
            path.push((from / self.masks, edge));
            at = from;
        }
        path.reverse();
        Some(path)
    }
}

/// What taking `edge` may do to the set of variables.
fn apply(set: &mut VarSet, edge: &Edge) {
    for &v in &edge.clears {
        set.remove(v);
    }
    for &v in &edge.saves {
        set.insert(v);
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
    fn may_be_set_on_some_path() {
        // 0 → 1 (saves a) → 3, 0 → 2 → 3
        let mut g = graph(vec![vec![1, 2], vec![3], vec![3], vec![]]);
        g.vars.insert("a", 0);
        g.succ[1][0].saves = vec![0];
        let may = g.may_be_set(0);
        assert!(may[3].contains(0));
        assert!(!may[2].contains(0));
        g.succ[1][0].certain = false;
        assert!(g.may_be_set(0)[3].contains(0));
    }

    #[test]
    fn paths_on_which_no_tracked_variable_is_set() {
        // 0 → 1 (saves a) → 3, 0 → 2 (saves b) → 3, 3 → 4 (clears a) → 5
        let mut g = graph(vec![vec![1, 2], vec![3], vec![3], vec![4], vec![5], vec![]]);
        g.succ[1][0].saves = vec![0];
        g.succ[2][0].saves = vec![1];
        let w = g.paths_missing_all(0, &[0, 1]);
        assert!(w.path_to(3).is_none(), "each way to 3 sets a or b");
        assert_eq!(w.path_to(0).map(|p| p.len()), Some(0));
        g.succ[3][0].clears = vec![0];
        let w = g.paths_missing_all(0, &[0, 1]);
        let path: Vec<(usize, usize)> = w
            .path_to(5)
            .unwrap()
            .iter()
            .map(|(from, e)| (*from, e.to))
            .collect();
        assert_eq!(path, [(0, 1), (1, 3), (3, 4), (4, 5)]);
        g.succ[2][0].certain = false;
        let w = g.paths_missing_all(0, &[0, 1]);
        assert_eq!(w.path_to(3).map(|p| p.len()), Some(2));
    }
}
