//! Request rates of the widget API's flood limits, written `PER_SECOND/BURST`.

use std::fmt;

/// A rate: so many requests per second, with bursts of so many. A rate of 0 means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct Rate {
    pub per_second: u32,
    pub burst: u32,
}

impl Rate {
    /// Parse `PER_SECOND/BURST` (or just `PER_SECOND`, the burst then being the same).
    pub fn parse(text: &str) -> Result<Rate, String> {
        let (rate, burst) = match text.split_once('/') {
            Some((r, b)) => (r.trim(), b.trim()),
            None => (text.trim(), text.trim()),
        };
        let number = |v: &str| {
            v.parse::<u32>()
                .map_err(|_| format!("`{text}` is not PER_SECOND/BURST, e.g. `10/20`"))
        };
        let per_second = number(rate)?;
        let burst = number(burst)?.max(per_second);
        Ok(Rate { per_second, burst })
    }

    /// No limit at all.
    pub const UNLIMITED: Rate = Rate {
        per_second: 0,
        burst: 0,
    };

    pub fn is_unlimited(&self) -> bool {
        self.per_second == 0
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_unlimited() {
            f.write_str("0")
        } else {
            write!(f, "{}/{}", self.per_second, self.burst)
        }
    }
}

impl TryFrom<String> for Rate {
    type Error = String;
    fn try_from(text: String) -> Result<Rate, String> {
        Rate::parse(&text)
    }
}

impl From<Rate> for String {
    fn from(rate: Rate) -> String {
        rate.to_string()
    }
}

/// The widget API's flood limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub per_visitor: Rate,
    pub per_address: Rate,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            per_visitor: Rate {
                per_second: 10,
                burst: 20,
            },
            per_address: Rate {
                per_second: 50,
                burst: 100,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_back_as_written() {
        for text in ["10/20", "0", "5/5"] {
            assert_eq!(Rate::parse(text).unwrap().to_string(), text);
        }
        // A burst below the rate is raised to it.
        assert_eq!(Rate::parse("8/2").unwrap().burst, 8);
        assert!(
            Rate::parse("fast")
                .unwrap_err()
                .contains("PER_SECOND/BURST")
        );
    }
}
