//! What every route of the JSON API enforces, added to the generated description so it
//! says what the server does: the error statuses the shared extractors answer with, and
//! that no text of a request body may hold NUL (`web::json`).

use serde_json::{Map, Value, json};

use crate::web::json::MAX_JSON_BYTES;

/// A string without NUL: what `web::json` lets through.
pub const NO_NUL: &str = "^[^\\u0000]*$";

/// Add the shared error answers to every operation and the NUL rule to every string of a
/// request body that has no pattern, format or list of values of its own.
pub fn apply(doc: &mut Value) {
    let mut body_refs = Vec::new();
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for operation in item.values_mut() {
                if let Some(operation) = operation.as_object_mut() {
                    errors(path, operation);
                }
                // Only JSON bodies pass through `web::json`.
                if let Some(body) = operation.pointer_mut("/requestBody/content/application~1json")
                {
                    collect_refs(body, &mut body_refs);
                    no_nul(body);
                }
            }
        }
    }
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    // Every schema a request body reaches, following references.
    let mut seen: Vec<String> = Vec::new();
    while let Some(name) = body_refs.pop() {
        if seen.contains(&name) {
            continue;
        }
        if let Some(schema) = schemas.get_mut(&name) {
            collect_refs(schema, &mut body_refs);
            no_nul(schema);
        }
        seen.push(name);
    }
}

fn error_ref() -> Value {
    json!({
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } }
    })
}

/// The statuses the extractors answer with, where the operation does not name them.
fn errors(path: &str, operation: &mut Map<String, Value>) {
    let has_body = operation.contains_key("requestBody");
    let has_query = operation
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let mut add = |status: &str, description: String| {
        responses.entry(status).or_insert_with(|| {
            let mut r = error_ref();
            r["description"] = Value::String(description);
            r
        });
    };
    if has_body || has_query {
        add(
            "400",
            "Malformed request: the field path in `details.path`".into(),
        );
    }
    if has_body {
        add(
            "413",
            format!("The body is over {MAX_JSON_BYTES} bytes (or a text over its limit)"),
        );
        add(
            "415",
            "The body is not of a media type this operation reads".into(),
        );
    }
    if path.starts_with("/api/widget/") {
        add("429", "Too many requests (see `Retry-After`)".into());
    }
}

/// The names of the component schemas `value` refers to.
fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                out.push(name.to_owned());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Give every plain string schema inside `value` the NUL rule.
fn no_nul(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let is_string = match map.get("type") {
                Some(Value::String(t)) => t == "string",
                Some(Value::Array(ts)) => ts.iter().any(|t| t == "string"),
                _ => false,
            };
            let own_rule = ["pattern", "format", "enum", "const"]
                .iter()
                .any(|k| map.contains_key(*k));
            if is_string && !own_rule {
                map.insert("pattern".into(), Value::String(NO_NUL.into()));
            }
            map.values_mut().for_each(no_nul);
        }
        Value::Array(items) => items.iter_mut().for_each(no_nul),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_get_the_shared_errors_and_strings_the_nul_rule() {
        let mut doc = json!({
            "paths": {
                "/api/widget/x": { "post": {
                    "requestBody": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/A" } } } },
                    "responses": { "200": { "description": "ok" }, "400": { "description": "mine" } }
                } },
                "/api/inbox/y": { "get": {
                    "parameters": [{ "in": "query", "name": "q", "schema": { "type": "string" } }],
                    "responses": { "200": { "description": "ok" } }
                } }
            },
            "components": { "schemas": {
                "A": { "type": "object", "properties": {
                    "s": { "type": "string" },
                    "e": { "type": "string", "format": "email" },
                    "b": { "$ref": "#/components/schemas/B" }
                } },
                "B": { "type": ["string", "null"] },
                "C": { "type": "string" }
            } }
        });
        apply(&mut doc);
        let post = &doc["paths"]["/api/widget/x"]["post"]["responses"];
        assert_eq!(post["400"]["description"], "mine");
        for status in ["413", "415", "429"] {
            assert!(post[status].is_object(), "{status}: {post}");
        }
        let get = &doc["paths"]["/api/inbox/y"]["get"]["responses"];
        assert!(get["400"].is_object() && get["429"].is_null(), "{get}");
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["A"]["properties"]["s"]["pattern"], NO_NUL);
        assert!(schemas["A"]["properties"]["e"]["pattern"].is_null());
        assert_eq!(schemas["B"]["pattern"], NO_NUL);
        assert!(schemas["C"]["pattern"].is_null(), "not in a request body");
    }
}
