//! JSON pointers (RFC 6901): how problems name the field they are about.

/// Escape one reference token (`~` → `~0`, `/` → `~1`).
pub fn escape(token: &str) -> String {
    if token.contains(['~', '/']) {
        token.replace('~', "~0").replace('/', "~1")
    } else {
        token.to_owned()
    }
}

/// Build a pointer from a base pointer and more tokens.
pub fn join<I, T>(base: &str, tokens: I) -> String
where
    I: IntoIterator<Item = T>,
    T: AsRef<str>,
{
    let mut out = base.to_owned();
    for t in tokens {
        out.push('/');
        out.push_str(&escape(t.as_ref()));
    }
    out
}

/// Is `s` a well-formed JSON pointer (`""` or `/a/b`, `~` only as `~0` or `~1`)?
pub fn is_valid(s: &str) -> bool {
    if s.is_empty() {
        return true;
    }
    if !s.starts_with('/') {
        return false;
    }
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            return false;
        }
    }
    true
}

/// The index of the card a pointer points into (`/cards/3/next` → 3).
pub fn card_index(pointer: &str) -> Option<usize> {
    let rest = pointer.strip_prefix("/cards/")?;
    rest.split('/').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_checking() {
        assert_eq!(
            join("/cards/1/set", ["vars.a/b~c"]),
            "/cards/1/set/vars.a~1b~0c"
        );
        assert!(is_valid(""));
        assert!(is_valid("/items/0/status"));
        assert!(is_valid("/a~1b/~0"));
        assert!(!is_valid("status"));
        assert!(!is_valid("/a~2"));
        assert!(!is_valid("/a~"));
        assert_eq!(card_index("/cards/12/options/0/next"), Some(12));
        assert_eq!(card_index("/cards"), None);
        assert_eq!(card_index("/start"), None);
    }
}
