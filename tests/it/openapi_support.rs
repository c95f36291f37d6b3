//! Checks against Pipedrive's official OpenAPI description (`../shared/pipedrive/`): load the
//! YAML, find the operation of a request, turn OpenAPI 3.0 schemas into JSON Schema
//! (2020-12) and validate request bodies, query parameters and responses.
//!
//! Request bodies are checked strictly: an object schema that lists its properties and says
//! nothing about others refuses unknown ones (after merging `allOf` parts), so a field the
//! operation does not know (`user_id` on a v2 deal, `email` on a v2 person) fails. Responses
//! are checked as the spec states them: the CRM may add fields.
#![allow(dead_code)]

use std::sync::OnceLock;

use serde_json::{Map, Value, json};
use yaml_rust2::{Yaml, YamlLoader};

/// Beside the repository (`../shared/pipedrive/`), or where `PIPEDRIVE_SPEC_DIR` says
/// (for checkouts that live elsewhere).
fn dir() -> String {
    let beside = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/pipedrive/");
    if std::path::Path::new(beside).is_dir() {
        return beside.to_owned();
    }
    match std::env::var("PIPEDRIVE_SPEC_DIR") {
        Ok(d) => format!("{}/", d.trim_end_matches('/')),
        Err(_) => panic!("the Pipedrive OpenAPI files are not at {beside}; set PIPEDRIVE_SPEC_DIR"),
    }
}

/// One OpenAPI document.
pub struct Spec {
    pub name: &'static str,
    pub doc: Value,
}

/// The four documents: the subsets first (the operations the app uses), then the whole.
pub struct Specs {
    pub v1: Vec<Spec>,
    pub v2: Vec<Spec>,
}

pub fn specs() -> &'static Specs {
    static SPECS: OnceLock<Specs> = OnceLock::new();
    SPECS.get_or_init(|| Specs {
        v1: vec![load("openapi-v1-subset.yaml"), load("openapi-v1.yaml")],
        v2: vec![load("openapi-v2-subset.yaml"), load("openapi-v2.yaml")],
    })
}

fn load(name: &'static str) -> Spec {
    let text = std::fs::read_to_string(format!("{}{name}", dir()))
        .unwrap_or_else(|e| panic!("cannot read {name}: {e}"));
    let docs = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    Spec {
        name,
        doc: yaml_to_json(&docs[0]),
    }
}

/// YAML as JSON (map keys become strings).
pub fn yaml_to_json(y: &Yaml) -> Value {
    match y {
        Yaml::Real(s) => s
            .parse::<f64>()
            .map_or(Value::String(s.clone()), |f| json!(f)),
        Yaml::Integer(i) => json!(i),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(yaml_to_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        Yaml::Boolean(b) => b.to_string(),
                        Yaml::Real(r) => r.clone(),
                        other => format!("{other:?}"),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        Yaml::Null | Yaml::BadValue | Yaml::Alias(_) => Value::Null,
    }
}

/// An operation found for a request.
pub struct Operation<'a> {
    pub spec: &'static str,
    pub template: String,
    pub op: &'a Value,
    pub root: &'a Value,
}

/// The operation for `method` on `path` below `/api/v1` or `/api/v2`, e.g.
/// `("GET", "/api/v2/persons/search")`.
pub fn operation(method: &str, path: &str) -> Option<Operation<'static>> {
    let (specs, rest) = if let Some(rest) = path.strip_prefix("/api/v2") {
        (&specs().v2, rest)
    } else if let Some(rest) = path.strip_prefix("/api/v1") {
        (&specs().v1, rest)
    } else {
        return None;
    };
    let method = method.to_lowercase();
    for spec in specs {
        let paths = spec.doc["paths"].as_object()?;
        // A literal path wins over a template (`/persons/search` over `/persons/{id}`).
        let exact = paths.get(rest).map(|item| (rest.to_owned(), item));
        let templated = || {
            paths
                .iter()
                .find(|(tpl, _)| matches_template(tpl, rest))
                .map(|(tpl, item)| (tpl.clone(), item))
        };
        if let Some((template, item)) = exact.or_else(templated)
            && let Some(op) = item.get(&method)
        {
            return Some(Operation {
                spec: spec.name,
                template,
                op,
                root: &spec.doc,
            });
        }
    }
    None
}

fn matches_template(tpl: &str, path: &str) -> bool {
    let (a, b): (Vec<&str>, Vec<&str>) = (tpl.split('/').collect(), path.split('/').collect());
    a.len() == b.len()
        && a.iter()
            .zip(&b)
            .all(|(t, p)| (t.starts_with('{') && t.ends_with('}')) || t == p)
}

fn resolve<'a>(root: &'a Value, reference: &str) -> &'a Value {
    let mut node = root;
    for part in reference.trim_start_matches("#/").split('/') {
        node = &node[part.replace("~1", "/").replace("~0", "~")];
    }
    node
}

/// An OpenAPI 3.0 schema as JSON Schema 2020-12.
pub fn to_json_schema(schema: &Value, root: &Value, strict: bool) -> Value {
    convert(schema, root, strict, &mut Vec::new())
}

fn convert(v: &Value, root: &Value, strict: bool, stack: &mut Vec<String>) -> Value {
    let Value::Object(m) = v else {
        return v.clone();
    };
    if let Some(r) = m.get("$ref").and_then(Value::as_str) {
        if stack.iter().any(|s| s == r) {
            return json!({});
        }
        stack.push(r.to_owned());
        let out = convert(resolve(root, r), root, strict, stack);
        stack.pop();
        return out;
    }
    let mut out = Map::new();
    for (k, val) in m {
        match k.as_str() {
            "nullable" | "example" | "xml" | "externalDocs" | "discriminator" | "deprecated"
            | "readOnly" | "writeOnly" => {}
            k if k.starts_with("x-") => {}
            "properties" => {
                let props = val
                    .as_object()
                    .map(|p| {
                        p.iter()
                            .map(|(name, s)| (name.clone(), convert(s, root, strict, stack)))
                            .collect()
                    })
                    .unwrap_or_default();
                out.insert(k.clone(), Value::Object(props));
            }
            "items" | "not" => {
                out.insert(k.clone(), convert(val, root, strict, stack));
            }
            "additionalProperties" if val.is_object() => {
                out.insert(k.clone(), convert(val, root, strict, stack));
            }
            "allOf" | "anyOf" | "oneOf" => {
                let parts = val
                    .as_array()
                    .map(|a| a.iter().map(|s| convert(s, root, strict, stack)).collect())
                    .unwrap_or_default();
                out.insert(k.clone(), Value::Array(parts));
            }
            _ => {
                out.insert(k.clone(), val.clone());
            }
        }
    }
    if strict {
        merge_all_of(&mut out);
        if out.contains_key("properties") && !out.contains_key("additionalProperties") {
            out.insert("additionalProperties".into(), Value::Bool(false));
        }
    }
    if m.get("nullable") == Some(&Value::Bool(true)) {
        return nullable(out);
    }
    Value::Object(out)
}

fn nullable(mut out: Map<String, Value>) -> Value {
    match out.get("type").cloned() {
        Some(Value::String(t)) => {
            out.insert("type".into(), json!([t, "null"]));
            if let Some(Value::Array(e)) = out.get_mut("enum") {
                e.push(Value::Null);
            }
            Value::Object(out)
        }
        _ => json!({"anyOf": [Value::Object(out), {"type": "null"}]}),
    }
}

/// In strict mode, `allOf: [{object}, {object}]` becomes one object, so refusing unknown
/// properties sees all of them.
fn merge_all_of(out: &mut Map<String, Value>) {
    let Some(Value::Array(parts)) = out.get("allOf") else {
        return;
    };
    let mergeable = parts.iter().all(|p| {
        p.as_object().is_some_and(|o| {
            o.keys().all(|k| {
                matches!(
                    k.as_str(),
                    "type"
                        | "properties"
                        | "required"
                        | "title"
                        | "description"
                        | "additionalProperties"
                )
            })
        })
    });
    if !mergeable {
        return;
    }
    let parts = parts.clone();
    out.remove("allOf");
    let mut props = out
        .remove("properties")
        .and_then(|p| p.as_object().cloned())
        .unwrap_or_default();
    let mut required: Vec<Value> = out
        .remove("required")
        .and_then(|r| r.as_array().cloned())
        .unwrap_or_default();
    let mut open = false;
    for p in parts {
        if let Some(ps) = p.get("properties").and_then(Value::as_object) {
            props.extend(ps.clone());
        }
        if let Some(rs) = p.get("required").and_then(Value::as_array) {
            required.extend(rs.iter().cloned());
        }
        open |= p.get("additionalProperties") == Some(&Value::Bool(true));
    }
    out.insert("type".into(), json!("object"));
    out.insert("properties".into(), Value::Object(props));
    if !required.is_empty() {
        out.insert("required".into(), Value::Array(required));
    }
    out.insert("additionalProperties".into(), Value::Bool(open));
}

/// Validation errors of `instance` against a converted schema.
pub fn errors(schema: &Value, instance: &Value) -> Vec<String> {
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(schema)
        .unwrap_or_else(|e| panic!("schema does not compile: {e}\n{schema:#}"));
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

impl Operation<'_> {
    /// The JSON request body schema.
    pub fn request_schema(&self) -> Option<Value> {
        let s = self
            .op
            .pointer("/requestBody/content/application~1json/schema")?;
        Some(to_json_schema(s, self.root, true))
    }

    /// The response schema for a status (exact, then `default`).
    pub fn response_schema(&self, status: u16) -> Option<Value> {
        let responses = self.op.get("responses")?;
        let r = responses
            .get(status.to_string())
            .or_else(|| responses.get("default"))?;
        let s = r.pointer("/content/application~1json/schema")?;
        Some(to_json_schema(s, self.root, false))
    }

    /// Every problem with these query parameters: undeclared, missing, or off-schema.
    pub fn query_errors(&self, query: &[(String, String)]) -> Vec<String> {
        let params: Vec<&Value> = self
            .op
            .get("parameters")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter(|p| p["in"] == "query").collect())
            .unwrap_or_default();
        let mut problems = Vec::new();
        for (k, v) in query {
            let Some(p) = params.iter().find(|p| p["name"] == k.as_str()) else {
                problems.push(format!("undeclared query parameter {k}"));
                continue;
            };
            let schema = to_json_schema(&p["schema"], self.root, false);
            let typed = match schema["type"].as_str() {
                Some("integer") => v.parse::<i64>().map_or(json!(v), |i| json!(i)),
                Some("number") => v.parse::<f64>().map_or(json!(v), |f| json!(f)),
                Some("boolean") => match v.as_str() {
                    "true" => json!(true),
                    "false" => json!(false),
                    _ => json!(v),
                },
                _ => json!(v),
            };
            for e in errors(&schema, &typed) {
                problems.push(format!("query {k}={v}: {e}"));
            }
        }
        for p in &params {
            let name = p["name"].as_str().unwrap_or_default();
            if p["required"] == true && !query.iter().any(|(k, _)| k == name) {
                problems.push(format!("missing required query parameter {name}"));
            }
        }
        problems
    }

    /// `(status, example)` of every JSON response example.
    pub fn examples(&self) -> Vec<(u16, Value)> {
        let mut out = Vec::new();
        if let Some(responses) = self.op.get("responses").and_then(Value::as_object) {
            for (code, r) in responses {
                let Ok(status) = code.parse::<u16>() else {
                    continue;
                };
                if let Some(ex) = r.pointer("/content/application~1json/example") {
                    out.push((status, ex.clone()));
                }
            }
        }
        out
    }
}
