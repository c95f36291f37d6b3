//! Reading a playbook file: YAML (or JSON) into the typed document.

use std::path::Path;

use serde_json::{Map, Number, Value};
use yaml_rust2::{Yaml, YamlLoader};

use crate::playbook::Playbook;

/// Read and parse the playbook at `path`; the error says what is wrong and where.
pub(super) fn load(path: &Path) -> Result<Playbook, String> {
    let source = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let document = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&source).map_err(|e| format!("not JSON: {e}"))?
    } else {
        let docs = YamlLoader::load_from_str(&source).map_err(|e| format!("not YAML: {e}"))?;
        match docs.as_slice() {
            [doc] => to_json(doc)?,
            [] => return Err("the file is empty".into()),
            _ => return Err("the file holds several YAML documents; give one playbook".into()),
        }
    };
    serde_path_to_error::deserialize(document).map_err(|e| {
        let at = e.path().to_string();
        if at == "." {
            e.inner().to_string()
        } else {
            format!("{at}: {}", e.inner())
        }
    })
}

fn to_json(node: &Yaml) -> Result<Value, String> {
    Ok(match node {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::Real(text) => node
            .as_f64()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("`{text}` is not a usable number"))?,
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Array(items) => Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        Yaml::Hash(entries) => {
            let mut map = Map::new();
            for (key, value) in entries {
                let key = match key {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    Yaml::Real(r) => r.clone(),
                    _ => return Err("a mapping key must be plain text".into()),
                };
                map.insert(key, to_json(value)?);
            }
            Value::Object(map)
        }
        Yaml::Alias(_) | Yaml::BadValue => {
            return Err("a YAML value that a playbook cannot hold".into());
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(src: &str) -> Value {
        to_json(&YamlLoader::load_from_str(src).unwrap()[0]).unwrap()
    }

    #[test]
    fn yaml_scalars_become_json() {
        assert_eq!(
            parse("on: page_load\nn: 3\nx: 1.5\nb: true\nl: [a, 2]\nz: ~\n"),
            json!({ "on": "page_load", "n": 3, "x": 1.5, "b": true, "l": ["a", 2], "z": null })
        );
    }

    #[test]
    fn anchors_and_aliases_are_expanded() {
        assert_eq!(
            parse("a: &x [1, 2]\nb: *x\n"),
            json!({ "a": [1, 2], "b": [1, 2] })
        );
    }

    #[test]
    fn complex_keys_are_refused() {
        let docs = YamlLoader::load_from_str("? [a, b]\n: 1\n").unwrap();
        assert!(to_json(&docs[0]).is_err());
    }
}
