//! The JSON Schema of the playbook document, generated from the model types (schemars).
//! Types whose serde shape is written by hand (cards, conditions, owners) describe their
//! shape here by hand, next to each other, so the schema accepts what the model reads.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Value, json};

use super::{
    ButtonsCard, CaptureCard, Card, Cond, ConditionCard, EndCard, HttpCard, LiveChatCard,
    MessageCard, NotifyCard, Op, Owner, Playbook, QuestionCard, RedirectCard, SetCard,
};

/// The schema of a whole playbook document (JSON Schema 2020-12).
pub fn playbook_schema() -> Value {
    schemars::schema_for!(Playbook).to_value()
}

/// A card type's own schema with the `id` and `type` keys every card has.
fn card_variant<T: JsonSchema>(generator: &mut SchemaGenerator, type_name: &str) -> Value {
    let mut schema = T::json_schema(generator);
    let object = schema.ensure_object();
    let properties = object.entry("properties").or_insert_with(|| json!({}));
    if let Value::Object(properties) = properties {
        properties.insert(
            "id".into(),
            json!({ "type": "string", "description": "unique within the playbook" }),
        );
        properties.insert("type".into(), json!({ "const": type_name }));
    }
    let required = object.entry("required").or_insert_with(|| json!([]));
    if let Value::Array(required) = required {
        required.insert(0, json!("type"));
        required.insert(0, json!("id"));
    }
    object.insert("additionalProperties".into(), json!(false));
    schema.to_value()
}

impl JsonSchema for Card {
    fn schema_name() -> Cow<'static, str> {
        "Card".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let variants = vec![
            card_variant::<MessageCard>(generator, "message"),
            card_variant::<QuestionCard>(generator, "question"),
            card_variant::<ButtonsCard>(generator, "buttons"),
            card_variant::<ConditionCard>(generator, "condition"),
            card_variant::<SetCard>(generator, "set"),
            card_variant::<HttpCard>(generator, "http"),
            card_variant::<LiveChatCard>(generator, "live_chat"),
            card_variant::<CaptureCard>(generator, "capture"),
            card_variant::<NotifyCard>(generator, "notify"),
            card_variant::<RedirectCard>(generator, "redirect"),
            card_variant::<EndCard>(generator, "end"),
        ];
        json_schema!({
            "description": "One card: its id, its `type` and the keys of that type.",
            "oneOf": variants,
        })
    }
}

impl JsonSchema for Cond {
    fn schema_name() -> Cow<'static, str> {
        "Condition".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let cond = generator.subschema_for::<Cond>().to_value();
        let op = generator.subschema_for::<Op>().to_value();
        let list = json!({ "type": "array", "items": cond, "minItems": 1 });
        json_schema!({
            "description": "A test `{ var, op, value }`, or `all: [...]` / `any: [...]` of conditions.",
            "anyOf": [
                {
                    "type": "object",
                    "properties": { "all": list },
                    "required": ["all"],
                    "additionalProperties": false,
                },
                {
                    "type": "object",
                    "properties": { "any": list },
                    "required": ["any"],
                    "additionalProperties": false,
                },
                {
                    "type": "object",
                    "properties": {
                        "var": { "type": "string" },
                        "op": op,
                        "value": { "description": "what `op` compares with; none for `set` and `unset`" },
                    },
                    "required": ["var", "op"],
                    "additionalProperties": false,
                },
            ],
        })
    }
}

impl JsonSchema for Owner {
    fn schema_name() -> Cow<'static, str> {
        "Owner".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "`rep` (who chatted, else the playbook's owner), `playbook`, or a CRM user id",
            "anyOf": [
                { "type": "string", "enum": ["rep", "playbook"] },
                { "type": "integer", "minimum": 1 },
            ],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::check::check_document;
    use crate::playbook::load::Format;

    const SHIPPED: [&str; 6] = [
        include_str!("../../../playbooks/lead-qualification.yaml"),
        include_str!("../../../playbooks/appointment-booking.yaml"),
        include_str!("../../../playbooks/support-triage.yaml"),
        include_str!("../../../playbooks/satisfaction-survey.yaml"),
        include_str!("../../../playbooks/product-recommendation.yaml"),
        include_str!("../../../playbooks/order-status.yaml"),
    ];

    fn errors(instance: &Value) -> Vec<String> {
        let schema = playbook_schema();
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&schema)
            .unwrap_or_else(|e| panic!("the schema does not compile: {e}\n{schema:#}"));
        validator
            .iter_errors(instance)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect()
    }

    #[test]
    fn every_shipped_playbook_fits_the_schema() {
        for src in SHIPPED {
            let playbook = check_document(src, Format::Yaml).unwrap();
            let value = serde_json::to_value(&playbook).unwrap();
            assert_eq!(errors(&value), Vec::<String>::new(), "{}", playbook.slug);
        }
    }

    #[test]
    fn the_schema_refuses_what_the_model_cannot_read() {
        let src = include_str!("../../../playbooks/lead-qualification.yaml");
        let good = serde_json::to_value(check_document(src, Format::Yaml).unwrap()).unwrap();
        let mut unknown_key = good.clone();
        unknown_key["cards"][0]["colour"] = json!("red");
        let mut unknown_type = good.clone();
        unknown_type["cards"][0]["type"] = json!("poem");
        let mut bad_condition = good.clone();
        bad_condition["trigger"] = json!({ "on": "sometimes" });
        let mut no_id = good;
        no_id["cards"][0].as_object_mut().unwrap().remove("id");
        for doc in [unknown_key, unknown_type, bad_condition, no_id] {
            assert!(!errors(&doc).is_empty(), "{doc:#}");
            assert!(serde_json::from_value::<Playbook>(doc).is_err());
        }
    }
}
