//! The event streams in the description: OpenAPI 3.2's `itemSchema` for
//! `text/event-stream`, one branch per event, each event's `data` one line of JSON
//! (`contentMediaType`/`contentSchema`).

use serde_json::{Value, json};

/// An event named `name` whose `data` is JSON of `data`; `with_id` for events carrying an
/// `id:` (a message's `seq`).
fn event(name: &str, data: Value, with_id: bool) -> Value {
    let mut required = vec!["event", "data"];
    let mut properties = json!({
        "event": { "const": name },
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": data,
        },
        "retry": { "type": "integer", "minimum": 0 },
    });
    if with_id {
        required.push("id");
        properties["id"] = json!({ "type": "string", "pattern": "^[0-9]+$" });
    }
    json!({ "type": "object", "required": required, "properties": properties })
}

fn object(required: &[&str], properties: Value) -> Value {
    json!({ "type": "object", "required": required, "properties": properties })
}

/// One event of the widget's stream (`GET /api/widget/events`).
fn widget_event() -> Value {
    let nullable_string = json!({ "type": ["string", "null"] });
    json!({
        "description": "One event. `retry:` lines and `: ping` comments (every 20 s) carry no event.",
        "oneOf": [
            event("message", json!({ "$ref": "#/components/schemas/Message" }), true),
            event("typing", object(&["author", "typing"], json!({
                "author": { "type": "string", "enum": ["bot", "rep"] },
                "name": { "type": "string" },
                "typing": { "type": "boolean" },
            })), false),
            event("status", object(&["status"], json!({
                "status": { "type": "string" },
                "outcome": { "type": "string" },
            })), false),
            event("redirect", object(&["url"], json!({ "url": { "type": "string" } })), false),
            event("agent", object(&["name", "avatar_url"], json!({
                "name": nullable_string,
                "avatar_url": nullable_string,
            })), false),
            event("queue", object(&["position", "expected_wait_seconds"], json!({
                "position": { "type": "integer", "minimum": 1 },
                "expected_wait_seconds": { "type": ["integer", "null"], "minimum": 0 },
            })), false),
        ]
    })
}

/// The events of the inbox's stream (`GET /api/inbox/events`), by name.
const INBOX_EVENTS: [&str; 10] = [
    "conversation",
    "removed",
    "counts",
    "message",
    "typing",
    "presence",
    "notify",
    "offer",
    "crm",
    "resync",
];

fn inbox_event() -> Value {
    json!({
        "description": "One event; its `data` is one JSON object (see the operation). `: ping` comments carry no event.",
        "type": "object",
        "required": ["event", "data"],
        "properties": {
            "event": { "type": "string", "enum": INBOX_EVENTS },
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": { "type": "object" },
            },
            "id": { "type": "string" },
            "retry": { "type": "integer", "minimum": 0 },
        }
    })
}

/// Describe each stream's events instead of "a string".
pub fn apply(doc: &mut Value) {
    let streams = [
        ("/api/widget/events", "WidgetEvent", widget_event()),
        ("/api/inbox/events", "InboxEvent", inbox_event()),
    ];
    for (path, name, schema) in streams {
        let pointer = format!(
            "/paths/{}/get/responses/200/content/text~1event-stream",
            path.replace('/', "~1")
        );
        if let Some(content) = doc.pointer_mut(&pointer) {
            *content = json!({ "itemSchema": { "$ref": format!("#/components/schemas/{name}") } });
        }
        if let Some(schemas) = doc
            .pointer_mut("/components/schemas")
            .and_then(Value::as_object_mut)
        {
            schemas.insert(name.to_owned(), schema);
        }
    }
}
