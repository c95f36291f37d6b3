//! A small bit set of variables, for the dataflow analyses.

/// A set of interned variable numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarSet {
    words: Vec<u64>,
}

impl VarSet {
    pub fn empty(size: usize) -> VarSet {
        VarSet {
            words: vec![0; size.div_ceil(64)],
        }
    }

    pub fn insert(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }

    pub fn remove(&mut self, i: usize) {
        self.words[i / 64] &= !(1 << (i % 64));
    }

    pub fn contains(&self, i: usize) -> bool {
        self.words[i / 64] & (1 << (i % 64)) != 0
    }

    /// Make this set equal to `other` (of the same size), without allocating.
    pub fn copy_from(&mut self, other: &VarSet) {
        self.words.copy_from_slice(&other.words);
    }

    /// Add `other`'s members; did this set grow?
    pub fn union_with(&mut self, other: &VarSet) -> bool {
        let mut changed = false;
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            let next = *a | b;
            changed |= next != *a;
            *a = next;
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_operations() {
        let mut a = VarSet::empty(70);
        a.insert(3);
        a.insert(69);
        let mut b = VarSet::empty(70);
        assert!(b.union_with(&a));
        assert_eq!(a, b);
        assert!(!b.union_with(&a));
        b.remove(69);
        assert!(!b.contains(69) && b.contains(3));
    }
}
