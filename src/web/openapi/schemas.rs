//! Schemas the derive cannot write: a body that is one of two shapes, and text that must
//! hold more than white space.

use serde_json::{Value, json};

use crate::web::visitor::types::MAX_TEXT_CHARS;

/// Text with at least one character that is neither NUL nor white space (Unicode's
/// `White_Space`, what `str::trim` removes), and no NUL.
pub const NOT_BLANK: &str = "^[^\\u0000]*[^\\u0000\\u0009-\\u000d \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000]*$";

/// A visitor's message: `text` or `choice`, never both.
fn send_request() -> Value {
    let text = json!({
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_TEXT_CHARS,
        "pattern": NOT_BLANK,
        "description": format!("At most {MAX_TEXT_CHARS} characters (a longer text is refused with 413), not only white space."),
    });
    json!({
        "description": "Either `text` or `choice`.",
        "oneOf": [
            {
                "type": "object",
                "required": ["text"],
                "additionalProperties": false,
                "properties": { "text": text, "choice": { "type": "null" } },
            },
            {
                "type": "object",
                "required": ["choice"],
                "additionalProperties": false,
                "properties": {
                    "choice": { "$ref": "#/components/schemas/Choice" },
                    "text": { "type": "null" },
                },
            },
        ]
    })
}

pub fn apply(doc: &mut Value) {
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        schemas.insert("SendRequest".into(), send_request());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_blank_accepts_exactly_what_trim_leaves_non_empty() {
        let validator =
            jsonschema::validator_for(&json!({ "type": "string", "pattern": NOT_BLANK })).unwrap();
        let samples = [
            "",
            " ",
            "a",
            " a ",
            "\t\n\r\u{b}\u{c}",
            "\u{85}",
            "\u{a0}",
            "\u{1680}",
            "\u{2000}",
            "\u{200a}",
            "\u{2028}",
            "\u{2029}",
            "\u{202f}",
            "\u{205f}",
            "\u{3000}",
            "\u{feff}",
            "\u{200b}",
            "\u{180e}",
            "\u{0}",
            "a\u{0}",
            "x\ny",
        ];
        for s in samples {
            let server = !s.trim().is_empty() && !s.contains('\0');
            assert_eq!(validator.is_valid(&json!(s)), server, "{s:?}");
        }
    }
}
