//! "Did you mean …?" for misspelt keys, values and card ids.

/// The candidate closest to `word`, when it is close enough to be a likely typo.
pub fn closest<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let limit = match word.chars().count() {
        0..=3 => 1,
        4..=7 => 2,
        _ => 3,
    };
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance, case-insensitive.
fn distance(a: &str, b: &str) -> usize {
    strsim::levenshtein(&a.to_lowercase(), &b.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_misses_only() {
        let keys = ["text", "retry_text", "max_tries", "next"];
        assert_eq!(closest("retry_txt", keys), Some("retry_text"));
        assert_eq!(closest("nxt", keys), Some("next"));
        assert_eq!(closest("colour", keys), None);
        assert_eq!(closest("NEXT", keys), Some("next"), "case does not count");
    }
}
