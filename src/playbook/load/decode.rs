//! Typed decoding of one part of a document (the top level or one card) from its JSON
//! value, with errors that keep their structure (which key, which variant, where) so that
//! the loader can explain them and keep going.
//!
//! Text fields also accept numbers and booleans (`label: 5` reads as `"5"`), which is what
//! people writing YAML by hand expect.

use std::fmt;

use serde::de::value::{MapDeserializer, SeqDeserializer, StrDeserializer};
use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;
use serde_json::Value;
use serde_path_to_error::Segment;

/// Why a value could not be decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum DecodeError {
    UnknownField {
        field: String,
        expected: &'static [&'static str],
    },
    UnknownVariant {
        variant: String,
        expected: &'static [&'static str],
    },
    MissingField(&'static str),
    InvalidType {
        found: String,
        expected: String,
    },
    InvalidValue {
        found: String,
        expected: String,
    },
    Custom(String),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::UnknownField { field, .. } => write!(f, "unknown key '{field}'"),
            DecodeError::UnknownVariant { variant, .. } => write!(f, "unknown value '{variant}'"),
            DecodeError::MissingField(field) => write!(f, "missing key '{field}'"),
            DecodeError::InvalidType { found, expected }
            | DecodeError::InvalidValue { found, expected } => {
                write!(f, "expected {expected}, found {found}")
            }
            DecodeError::Custom(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for DecodeError {}

impl de::Error for DecodeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DecodeError::Custom(msg.to_string().replace('`', "'"))
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DecodeError::InvalidType {
            found: describe_unexpected(&unexp),
            expected: describe_expected(&exp.to_string()),
        }
    }

    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DecodeError::InvalidValue {
            found: describe_unexpected(&unexp),
            expected: describe_expected(&exp.to_string()),
        }
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        DecodeError::UnknownVariant {
            variant: variant.to_owned(),
            expected,
        }
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        DecodeError::UnknownField {
            field: field.to_owned(),
            expected,
        }
    }

    fn missing_field(field: &'static str) -> Self {
        DecodeError::MissingField(field)
    }
}

fn describe_unexpected(unexp: &de::Unexpected<'_>) -> String {
    use de::Unexpected as U;
    match unexp {
        U::Bool(b) => format!("{b}"),
        U::Unsigned(n) => format!("the number {n}"),
        U::Signed(n) => format!("the number {n}"),
        U::Float(n) => format!("the number {n}"),
        U::Str(s) => format!("the text \"{s}\""),
        U::Unit => "nothing".into(),
        U::Seq => "a list".into(),
        U::Map => "a mapping".into(),
        other => other.to_string(),
    }
}

fn describe_expected(exp: &str) -> String {
    match exp {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number, 0 or more".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a string" => "text".into(),
        "a sequence" => "a list".into(),
        "a map" => "a mapping".into(),
        "a boolean" => "true or false".into(),
        other if other.starts_with("struct ") => "a mapping".into(),
        other => other.replace('`', "'"),
    }
}

/// One step of the path to the value an error is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// A decoding error and where it happened, relative to the decoded value.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    pub path: Vec<Step>,
    pub error: DecodeError,
}

/// How much work decoding does about errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Fast, for values that are probably fine: an error has no path.
    Quick,
    /// Tracks the path, so that an error can say where it is.
    Tracked,
}

/// Decode `T` from `value`.
pub fn decode<T: DeserializeOwned>(value: &Value) -> Result<T, Located> {
    decode_with(value, &[], Mode::Tracked)
}

/// Decode `T` from `value`, leaving out the keys `skip` of its top-level mapping.
pub fn decode_with<T: DeserializeOwned>(
    value: &Value,
    skip: &'static [&'static str],
    mode: Mode,
) -> Result<T, Located> {
    let de = ValueDe { value, skip };
    if mode == Mode::Quick {
        return T::deserialize(de).map_err(|error| Located {
            path: Vec::new(),
            error,
        });
    }
    serde_path_to_error::deserialize(de).map_err(|e| {
        let mut path: Vec<Step> = e
            .path()
            .iter()
            .filter_map(|seg| match seg {
                Segment::Seq { index } => Some(Step::Index(*index)),
                Segment::Map { key } => Some(Step::Key(key.clone())),
                Segment::Enum { .. } | Segment::Unknown => None,
            })
            .collect();
        let error = e.into_inner();
        // The path of an unknown key ends with the key itself: keep it to the parent.
        if let DecodeError::UnknownField { field, .. } = &error
            && path.last() == Some(&Step::Key(field.clone()))
        {
            path.pop();
        }
        Located { path, error }
    })
}

/// A `serde_json::Value` read as a deserializer with [`DecodeError`]s.
#[derive(Clone, Copy)]
struct ValueDe<'a> {
    value: &'a Value,
    /// Keys of this mapping to leave out (not of nested ones).
    skip: &'static [&'static str],
}

impl<'a> ValueDe<'a> {
    fn nested(value: &'a Value) -> Self {
        ValueDe { value, skip: &[] }
    }
}

impl<'de> IntoDeserializer<'de, DecodeError> for ValueDe<'de> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> de::Deserializer<'de> for ValueDe<'de> {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else {
                    visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(items) => {
                let mut seq = SeqDeserializer::new(items.iter().map(ValueDe::nested));
                let out = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(out)
            }
            Value::Object(entries) => {
                let skip = self.skip;
                let mut map = MapDeserializer::new(
                    entries
                        .iter()
                        .filter(|(k, _)| !skip.contains(&k.as_str()))
                        .map(|(k, v)| (k.as_str(), ValueDe::nested(v))),
                );
                let out = visitor.visit_map(&mut map)?;
                map.end()?;
                Ok(out)
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.value {
            Value::Number(n) => visitor.visit_string(n.to_string()),
            Value::Bool(b) => visitor.visit_string(b.to_string()),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        match self.value {
            Value::String(s) => {
                let de: StrDeserializer<'_, DecodeError> = s.as_str().into_deserializer();
                visitor.visit_enum(de)
            }
            Value::Number(n) => {
                let s = n.to_string();
                let de: StrDeserializer<'_, DecodeError> = s.as_str().into_deserializer();
                visitor.visit_enum(de)
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf unit
        unit_struct seq tuple tuple_struct map struct identifier
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::model::{ButtonsCard, QuestionCard, Trigger};
    use serde_json::json;

    #[test]
    fn unknown_key_keeps_its_name_and_place() {
        let err = decode::<ButtonsCard>(&json!({
            "text": "Size?",
            "options": [{"label": "a", "next": "b", "scor": 3}]
        }))
        .unwrap_err();
        assert_eq!(err.path, [Step::Key("options".into()), Step::Index(0)]);
        assert!(
            matches!(&err.error, DecodeError::UnknownField { field, expected }
                if field == "scor" && expected.contains(&"score"))
        );
    }

    #[test]
    fn unknown_variant_and_missing_field() {
        let err = decode::<QuestionCard>(&json!({"input": "emial", "next": "x"})).unwrap_err();
        assert_eq!(err.path, [Step::Key("input".into())]);
        assert!(
            matches!(&err.error, DecodeError::UnknownVariant { variant, .. } if variant == "emial")
        );
        let err = decode::<QuestionCard>(&json!({"text": "x"})).unwrap_err();
        assert_eq!(err.error, DecodeError::MissingField("next"));
    }

    #[test]
    fn numbers_read_as_text_where_text_is_wanted() {
        let card: ButtonsCard = decode(&json!({
            "options": [{"label": 5, "value": true, "next": "x", "score": 2}]
        }))
        .unwrap();
        assert_eq!(card.options[0].label, "5");
        assert_eq!(card.options[0].value.as_deref(), Some("true"));
    }

    #[test]
    fn wrong_types_are_described_plainly() {
        let err =
            decode::<Trigger>(&json!({"on": "time_on_page", "delay_seconds": -4})).unwrap_err();
        assert_eq!(err.path, [Step::Key("delay_seconds".into())]);
        assert_eq!(
            err.error.to_string(),
            "expected a whole number, 0 or more, found the number -4"
        );
        let err = decode::<Trigger>(&json!({"on": "click", "keywords": "x"})).unwrap_err();
        assert_eq!(
            err.error.to_string(),
            "expected a list, found the text \"x\""
        );
    }
}
