//! `POST /api/admin/yaml`, the settings page's form turned into the YAML view: the draft
//! document as a YAML file in the usual key order, checked as that text (lines counting in
//! it), valid or not; nothing stored; admins only.

use reqwest::Method;
use serde_json::{Value, json};

use crate::admin_api::{Body, CLICK_PLAYBOOK, problems, setup};
use crate::common::TestDb;

#[tokio::test]
async fn a_form_document_comes_back_as_yaml_with_the_problems_of_that_text() {
    for db in TestDb::all() {
        let s = setup(db).await;
        let (_, checked) = s
            .call(
                &s.admin,
                Method::POST,
                "/api/admin/validate",
                Body::Yaml(CLICK_PLAYBOOK.into()),
            )
            .await;
        let mut doc = checked["document"].clone();
        doc["cards"][1]["text"] = json!("Your e-mail, please: yes or no?");
        doc["cards"][1]["next"] = json!("nowhere");
        let (status, body) = s
            .call(
                &s.admin,
                Method::POST,
                "/api/admin/yaml",
                Body::Json(doc.clone()),
            )
            .await;
        assert_eq!(status, 200, "{body:#}");
        let yaml = body["yaml"].as_str().unwrap();
        assert!(
            yaml.starts_with("slug: admin-test\nname: Admin test\n"),
            "{yaml}"
        );
        // The dangling transition on card 'ask', at its line in this YAML.
        let line = yaml
            .lines()
            .position(|l| l.contains("next: nowhere"))
            .unwrap() as u64
            + 1;
        let found = problems(&body);
        assert!(
            found.iter().any(|(c, l, m)| c.as_deref() == Some("ask")
                && *l == Some(line)
                && m.contains("nowhere")),
            "{found:?}\n{yaml}"
        );
        // The YAML reads back as the same document.
        assert_eq!(body["document"], doc);
        assert_eq!(body["paths"], Value::Null);

        // Fixed: no problems, and the paths.
        doc["cards"][1]["next"] = json!("bye");
        let (_, body) = s
            .call(&s.admin, Method::POST, "/api/admin/yaml", Body::Json(doc))
            .await;
        assert_eq!(body["problems"], json!([]), "{body:#}");
        assert!(body["paths"].as_str().unwrap().contains("bye"));

        // Not an object: 400. A rep: 403.
        let (status, _) = s
            .call(
                &s.admin,
                Method::POST,
                "/api/admin/yaml",
                Body::Json(json!([1])),
            )
            .await;
        assert_eq!(status, 400);
        let (status, _) = s
            .call(
                &s.rep,
                Method::POST,
                "/api/admin/yaml",
                Body::Json(json!({})),
            )
            .await;
        assert_eq!(status, 403);
    }
}
