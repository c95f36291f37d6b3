//! Condition cards: rules of tests on variables, combined with `all` and `any`.

use std::fmt;

use schemars::JsonSchema;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// Branches on variables: first matching rule wins, else `else`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConditionCard {
    pub rules: Vec<Rule>,
    #[serde(rename = "else", default, skip_serializing_if = "Option::is_none")]
    pub else_: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub when: Cond,
    pub next: String,
}

/// A test on variables, or a combination of tests.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Test {
        var: String,
        op: Op,
        value: Option<Value>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCond {
    all: Option<Vec<Cond>>,
    any: Option<Vec<Cond>>,
    var: Option<String>,
    op: Option<Op>,
    value: Option<Value>,
}

impl<'de> Deserialize<'de> for Cond {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawCond::deserialize(deserializer)?;
        match raw {
            RawCond {
                all: Some(all),
                any: None,
                var: None,
                op: None,
                value: None,
            } => Ok(Cond::All(all)),
            RawCond {
                all: None,
                any: Some(any),
                var: None,
                op: None,
                value: None,
            } => Ok(Cond::Any(any)),
            RawCond {
                all: None,
                any: None,
                var: Some(var),
                op: Some(op),
                value,
            } => Ok(Cond::Test { var, op, value }),
            RawCond {
                all: None,
                any: None,
                var: Some(_),
                op: None,
                ..
            } => Err(D::Error::missing_field("op")),
            _ => Err(D::Error::custom(
                "a condition is either `all: [...]`, `any: [...]` or `{ var, op, value }`",
            )),
        }
    }
}

impl Serialize for Cond {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Cond::All(c) => {
                let mut m = serializer.serialize_map(Some(1))?;
                m.serialize_entry("all", c)?;
                m.end()
            }
            Cond::Any(c) => {
                let mut m = serializer.serialize_map(Some(1))?;
                m.serialize_entry("any", c)?;
                m.end()
            }
            Cond::Test { var, op, value } => {
                let mut m = serializer.serialize_map(None)?;
                m.serialize_entry("var", var)?;
                m.serialize_entry("op", op)?;
                if let Some(v) = value {
                    m.serialize_entry("value", v)?;
                }
                m.end()
            }
        }
    }
}

impl fmt::Display for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, parts: &[Cond], word: &str| {
            write!(f, "(")?;
            for (i, c) in parts.iter().enumerate() {
                if i > 0 {
                    write!(f, " {word} ")?;
                }
                write!(f, "{c}")?;
            }
            write!(f, ")")
        };
        match self {
            Cond::All(c) => join(f, c, "and"),
            Cond::Any(c) => join(f, c, "or"),
            Cond::Test { var, op, value } => match value {
                Some(v) => write!(f, "{var} {} {v}", op.name()),
                None => write!(f, "{var} {}", op.name()),
            },
        }
    }
}

/// Condition operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Eq,
    Ne,
    Contains,
    In,
    Gt,
    Gte,
    Lt,
    Lte,
    Set,
    Unset,
    Matches,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Contains => "contains",
            Op::In => "in",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::Set => "set",
            Op::Unset => "unset",
            Op::Matches => "matches",
        }
    }

    /// Does this operator compare against a `value`?
    pub fn takes_value(self) -> bool {
        !matches!(self, Op::Set | Op::Unset)
    }
}
