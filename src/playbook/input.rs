//! Checking and normalising what a visitor types at a question card, per input kind.
//!
//! Every kind trims the answer first. What is stored:
//! - `text`, `long_text`: the trimmed text (at most 500 / 5,000 characters).
//! - `email`: the address as typed, with its domain lower-cased; the domain needs a dot.
//! - `phone`: E.164 (`+33612345678`). Only international numbers are accepted (`+…` or
//!   `00…`): a national number says nothing about its country.
//! - `number`: a JSON number. `1.5`, `1,5`, `1 000`, `1'000`, `1,000.50` and `1.000,50`
//!   are read the usual way; a single comma followed by exactly three digits groups
//!   thousands (`1,000` is a thousand), otherwise a single comma is a decimal comma.
//! - `date`: ISO `YYYY-MM-DD`, from ISO, `DD/MM/YYYY`, `DD.MM.YYYY` or `DD-MM-YYYY`.
//! - `url`: an absolute http(s) URL; `example.com/pricing` gets `https://` in front.

use chrono::NaiveDate;
use email_address::{EmailAddress, Options};
use serde_json::Value;

use super::model::InputKind;

/// Longest answer to a `text` question, in characters.
pub const MAX_TEXT_CHARS: usize = 500;
/// Longest answer to a `long_text` question, in characters.
pub const MAX_LONG_TEXT_CHARS: usize = 5000;

/// Why an answer was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("the answer is empty")]
    Empty,
    #[error("the answer is too long")]
    TooLong,
    #[error("not an e-mail address")]
    NotEmail,
    #[error("not an international phone number")]
    NotPhone,
    #[error("not a number")]
    NotNumber,
    #[error("not a date")]
    NotDate,
    #[error("not a web address")]
    NotUrl,
}

/// Check `answer` against `kind`; the normalised value to store, or why it was refused.
pub fn normalize(kind: InputKind, answer: &str) -> Result<Value, InputError> {
    let answer = answer.trim();
    if answer.is_empty() {
        return Err(InputError::Empty);
    }
    match kind {
        InputKind::Text => bounded_text(answer, MAX_TEXT_CHARS),
        InputKind::LongText => bounded_text(answer, MAX_LONG_TEXT_CHARS),
        InputKind::Email => email(answer).map(Value::String),
        InputKind::Phone => phone(answer).map(Value::String),
        InputKind::Number => number(answer),
        InputKind::Date => date(answer).map(|d| Value::String(d.to_string())),
        InputKind::Url => web_address(answer).map(Value::String),
    }
}

fn bounded_text(answer: &str, max_chars: usize) -> Result<Value, InputError> {
    if answer.chars().count() > max_chars {
        return Err(InputError::TooLong);
    }
    Ok(Value::String(answer.to_owned()))
}

fn email(answer: &str) -> Result<String, InputError> {
    let options = Options::default()
        .with_required_tld()
        .without_display_text()
        .without_domain_literal();
    let address =
        EmailAddress::parse_with_options(answer, options).map_err(|_| InputError::NotEmail)?;
    let domain = address.domain();
    let dotted = domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.');
    if !dotted {
        return Err(InputError::NotEmail);
    }
    if domain.bytes().any(|b| b.is_ascii_uppercase()) {
        Ok(format!(
            "{}@{}",
            address.local_part(),
            domain.to_ascii_lowercase()
        ))
    } else {
        // The parsed address is the answer as typed: keep its text, no copy.
        Ok(address.into())
    }
}

fn phone(answer: &str) -> Result<String, InputError> {
    let international = match answer.strip_prefix("00") {
        Some(rest) => format!("+{rest}"),
        None if answer.starts_with('+') => answer.to_owned(),
        None => return Err(InputError::NotPhone),
    };
    let number = phonenumber::parse(None, &international).map_err(|_| InputError::NotPhone)?;
    if !number.is_valid() {
        return Err(InputError::NotPhone);
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

fn number(answer: &str) -> Result<Value, InputError> {
    let (sign, digits) = match answer.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", answer.strip_prefix('+').unwrap_or(answer)),
    };
    let compact: String = digits
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '\'' | '_'))
        .collect();
    if compact.is_empty()
        || !compact
            .chars()
            .all(|c| c.is_ascii_digit() || c == ',' || c == '.')
    {
        return Err(InputError::NotNumber);
    }
    let plain = decimal_point_form(&compact).ok_or(InputError::NotNumber)?;
    let parsed: f64 = format!("{sign}{plain}")
        .parse()
        .map_err(|_| InputError::NotNumber)?;
    if !parsed.is_finite() {
        return Err(InputError::NotNumber);
    }
    Ok(json_number(parsed))
}

/// Rewrite digits with `,` and `.` separators into digits with at most one `.` decimal point.
fn decimal_point_form(s: &str) -> Option<String> {
    let commas = s.matches(',').count();
    let dots = s.matches('.').count();
    let (decimal, grouping) = match (commas, dots) {
        (0, 0) => return Some(s.to_owned()),
        (0, 1) => ('.', None),
        (0, _) => (' ', Some('.')),
        (1, 0) => {
            let after = s.len() - s.find(',').map_or(0, |i| i + 1);
            if after == 3 {
                (' ', Some(','))
            } else {
                (',', None)
            }
        }
        (_, 0) => (' ', Some(',')),
        _ => {
            // Both: the one that comes last is the decimal separator, and appears once.
            let last_comma = s.rfind(',')?;
            let last_dot = s.rfind('.')?;
            if last_comma > last_dot {
                (commas == 1).then_some((',', Some('.')))?
            } else {
                (dots == 1).then_some(('.', Some(',')))?
            }
        }
    };
    let (int_part, frac_part) = match s.find(decimal) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let int_digits = match grouping {
        Some(g) => ungroup(int_part, g)?,
        None => int_part.to_owned(),
    };
    match frac_part {
        Some(f) if f.is_empty() || !f.chars().all(|c| c.is_ascii_digit()) => None,
        Some(f) => Some(format!(
            "{}.{f}",
            if int_digits.is_empty() {
                "0"
            } else {
                &int_digits
            }
        )),
        None => Some(int_digits),
    }
}

/// `1,000,000` → `1000000`; groups after the first must have three digits.
fn ungroup(s: &str, separator: char) -> Option<String> {
    let mut groups = s.split(separator);
    let first = groups.next()?;
    if first.is_empty() || (first.len() > 3 && s.contains(separator)) {
        return None;
    }
    let mut out = first.to_owned();
    for g in groups {
        if g.len() != 3 {
            return None;
        }
        out.push_str(g);
    }
    out.chars().all(|c| c.is_ascii_digit()).then_some(out)
}

/// An integral value within i64 range as a JSON integer, anything else as a float.
fn json_number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::from(n as i64)
    } else {
        Value::from(n)
    }
}

fn date(answer: &str) -> Result<NaiveDate, InputError> {
    const FORMATS: [&str; 4] = ["%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y"];
    FORMATS
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(answer, f).ok())
        .filter(|d| (1000..=9999).contains(&chrono::Datelike::year(d)))
        .ok_or(InputError::NotDate)
}

fn web_address(answer: &str) -> Result<String, InputError> {
    if answer.chars().any(char::is_whitespace) {
        return Err(InputError::NotUrl);
    }
    let has_scheme = answer.contains("://");
    let candidate = if has_scheme {
        answer.to_owned()
    } else {
        format!("https://{answer}")
    };
    let parsed = url::Url::parse(&candidate).map_err(|_| InputError::NotUrl)?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(InputError::NotUrl);
    }
    let host = parsed.host_str().ok_or(InputError::NotUrl)?;
    let dotted = host.contains('.') && !host.ends_with('.');
    if !dotted && (!has_scheme || host != "localhost") {
        return Err(InputError::NotUrl);
    }
    Ok(parsed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(kind: InputKind, s: &str) -> Value {
        normalize(kind, s).unwrap_or_else(|e| panic!("{s:?} refused as {}: {e}", kind.name()))
    }

    fn refused(kind: InputKind, s: &str) -> InputError {
        match normalize(kind, s) {
            Ok(v) => panic!("{s:?} accepted as {}: {v}", kind.name()),
            Err(e) => e,
        }
    }

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(
            ok(InputKind::Text, "  Ada Lovelace \n"),
            json!("Ada Lovelace")
        );
        assert_eq!(refused(InputKind::Text, "   "), InputError::Empty);
        assert_eq!(
            ok(InputKind::Text, &"é".repeat(500)),
            json!("é".repeat(500))
        );
        assert_eq!(
            refused(InputKind::Text, &"a".repeat(501)),
            InputError::TooLong
        );
    }

    #[test]
    fn long_text_allows_five_thousand_characters() {
        let long = "word ".repeat(1000);
        assert_eq!(ok(InputKind::LongText, &long), json!(long.trim()));
        assert_eq!(
            refused(InputKind::LongText, &"a".repeat(5001)),
            InputError::TooLong
        );
        assert_eq!(refused(InputKind::LongText, ""), InputError::Empty);
    }

    #[test]
    fn email_needs_a_dotted_domain() {
        assert_eq!(
            ok(InputKind::Email, " ada@Example.COM "),
            json!("ada@example.com")
        );
        assert_eq!(
            ok(InputKind::Email, "a.b+tag@mail.example.co.uk"),
            json!("a.b+tag@mail.example.co.uk")
        );
        for bad in [
            "ada",
            "ada@",
            "ada@localhost",
            "@example.com",
            "ada@example.",
            "Ada <ada@example.com>",
            "ada@[127.0.0.1]",
            "a b@example.com",
        ] {
            assert_eq!(
                refused(InputKind::Email, bad),
                InputError::NotEmail,
                "{bad}"
            );
        }
    }

    #[test]
    fn phone_is_international_and_stored_as_e164() {
        assert_eq!(
            ok(InputKind::Phone, "+33 6 12 34 56 78"),
            json!("+33612345678")
        );
        assert_eq!(
            ok(InputKind::Phone, "+1 (415) 555-2671"),
            json!("+14155552671")
        );
        assert_eq!(ok(InputKind::Phone, "0049 30 901820"), json!("+4930901820"));
        for bad in ["06 12 34 56 78", "call me", "+33 12", "+999 123456"] {
            assert_eq!(
                refused(InputKind::Phone, bad),
                InputError::NotPhone,
                "{bad}"
            );
        }
    }

    #[test]
    fn numbers_in_the_usual_spellings() {
        assert_eq!(ok(InputKind::Number, "42"), json!(42));
        assert_eq!(ok(InputKind::Number, "1.5"), json!(1.5));
        assert_eq!(ok(InputKind::Number, "1,5"), json!(1.5));
        assert_eq!(ok(InputKind::Number, "1 000"), json!(1000));
        assert_eq!(ok(InputKind::Number, "1\u{a0}000,25"), json!(1000.25));
        assert_eq!(ok(InputKind::Number, "1,000"), json!(1000));
        assert_eq!(ok(InputKind::Number, "1,000,000.5"), json!(1_000_000.5));
        assert_eq!(ok(InputKind::Number, "1.000.000,5"), json!(1_000_000.5));
        assert_eq!(ok(InputKind::Number, "1'000"), json!(1000));
        assert_eq!(ok(InputKind::Number, "-3"), json!(-3));
        assert_eq!(ok(InputKind::Number, ",5"), json!(0.5));
        for bad in [
            "",
            "abc",
            "1.2.3,4,5",
            "12,34,5",
            "1,,0",
            "1.",
            "--1",
            "1e9",
            "10 %",
            "1,0000,000",
        ] {
            assert!(
                normalize(InputKind::Number, bad).is_err(),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn dates_become_iso() {
        assert_eq!(ok(InputKind::Date, "2027-03-04"), json!("2027-03-04"));
        assert_eq!(ok(InputKind::Date, "04/03/2027"), json!("2027-03-04"));
        assert_eq!(ok(InputKind::Date, "4.3.2027"), json!("2027-03-04"));
        assert_eq!(ok(InputKind::Date, "04-03-2027"), json!("2027-03-04"));
        for bad in [
            "2027-02-30",
            "31/31/2027",
            "March 3",
            "03/04/27",
            "tomorrow",
        ] {
            assert_eq!(refused(InputKind::Date, bad), InputError::NotDate, "{bad}");
        }
    }

    #[test]
    fn urls_are_http_and_absolute() {
        assert_eq!(
            ok(InputKind::Url, "example.com"),
            json!("https://example.com/")
        );
        assert_eq!(
            ok(InputKind::Url, "http://shop.example.com/a?b=1"),
            json!("http://shop.example.com/a?b=1")
        );
        assert_eq!(
            ok(InputKind::Url, "www.example.com/pricing"),
            json!("https://www.example.com/pricing")
        );
        for bad in [
            "ftp://example.com",
            "javascript:alert(1)",
            "not a url",
            "example",
            "https://",
        ] {
            assert_eq!(refused(InputKind::Url, bad), InputError::NotUrl, "{bad}");
        }
    }
}
