//! The source line of every node of a JSON text, keyed by JSON pointer, so that problems
//! in a JSON playbook name their line as they do in YAML. Runs only on text that already
//! parsed as JSON; it stops quietly at anything it does not expect.

use super::pointer;
use super::yaml::LineMap;

/// Lines of the nodes of `src` (a mapping entry's line is its key's).
pub fn lines(src: &str) -> LineMap {
    let mut scanner = Scanner {
        src: src.as_bytes(),
        text: src,
        pos: 0,
        line: 1,
        map: LineMap::default(),
    };
    scanner.value(String::new(), 0);
    scanner.map
}

/// Deepest nesting followed (serde_json refuses deeper documents anyway).
const MAX_DEPTH: usize = 128;

struct Scanner<'a> {
    src: &'a [u8],
    text: &'a str,
    pos: usize,
    line: usize,
    map: LineMap,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                b'\n' => self.line += 1,
                b' ' | b'\t' | b'\r' => {}
                _ => return,
            }
            self.pos += 1;
        }
    }

    /// Read a string token; its text unescaped.
    fn string(&mut self) -> Option<String> {
        let start = self.pos;
        self.pos += 1;
        while let Some(c) = self.peek() {
            self.pos += 1;
            match c {
                b'\\' => self.pos += 1,
                b'"' => return serde_json::from_str(self.text.get(start..self.pos)?).ok(),
                _ => {}
            }
        }
        None
    }

    /// Read one value at `at`; false when the text is not as expected.
    fn value(&mut self, at: String, depth: usize) -> bool {
        self.skip_ws();
        self.map.insert(at.clone(), self.line);
        match self.peek() {
            Some(b'{') if depth < MAX_DEPTH => {
                self.pos += 1;
                loop {
                    self.skip_ws();
                    match self.peek() {
                        Some(b'}') => {
                            self.pos += 1;
                            return true;
                        }
                        Some(b',') => self.pos += 1,
                        Some(b'"') => {
                            let line = self.line;
                            let Some(key) = self.string() else {
                                return false;
                            };
                            let child = pointer::join(&at, [key]);
                            self.map.insert(child.clone(), line);
                            self.skip_ws();
                            if self.peek() != Some(b':') {
                                return false;
                            }
                            self.pos += 1;
                            if !self.value(child, depth + 1) {
                                return false;
                            }
                        }
                        _ => return false,
                    }
                }
            }
            Some(b'[') if depth < MAX_DEPTH => {
                self.pos += 1;
                let mut index = 0usize;
                loop {
                    self.skip_ws();
                    match self.peek() {
                        Some(b']') => {
                            self.pos += 1;
                            return true;
                        }
                        Some(b',') => self.pos += 1,
                        Some(_) => {
                            if !self.value(format!("{at}/{index}"), depth + 1) {
                                return false;
                            }
                            index += 1;
                        }
                        None => return false,
                    }
                }
            }
            Some(b'"') => self.string().is_some(),
            Some(_) => {
                while let Some(c) = self.peek() {
                    if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n') {
                        break;
                    }
                    self.pos += 1;
                }
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_has_its_line() {
        let src = "{\n  \"slug\": \"a\",\n  \"cards\": [\n    {\"id\": \"x\\\"y\",\n     \"next\": \"z\"},\n    {\n      \"id\": \"a/b\"\n    }\n  ]\n}\n";
        let map = lines(src);
        assert_eq!(map.line(""), Some(1));
        assert_eq!(map.line("/slug"), Some(2));
        assert_eq!(map.line("/cards"), Some(3));
        assert_eq!(map.line("/cards/0"), Some(4));
        assert_eq!(map.line("/cards/0/id"), Some(4));
        assert_eq!(map.line("/cards/0/next"), Some(5));
        assert_eq!(map.line("/cards/1"), Some(6));
        assert_eq!(map.line("/cards/1/id"), Some(7));
        // A missing key falls back to its nearest ancestor.
        assert_eq!(map.line("/cards/1/text"), Some(6));
    }
}
