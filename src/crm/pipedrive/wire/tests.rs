//! Parsing and serialising the wire shapes.

use super::*;
use crate::playbook::model::Money;

#[test]
fn person_body_has_primary_work_email_and_no_empty_fields() {
    let body = PersonBody::from_new(&NewPerson {
        name: "Ann".into(),
        email: Some(" ann@example.com ".into()),
        phone: Some("".into()),
        org_id: Some(7),
        owner_id: None,
    });
    let v = serde_json::to_value(&body).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"name": "Ann", "org_id": 7,
            "emails": [{"value": "ann@example.com", "primary": true, "label": "work"}]})
    );
}

#[test]
fn lead_body_has_value_object_and_date() {
    let body = LeadBody::from_new(
        &NewLeadOrDeal {
            title: "T".into(),
            person_id: Some(1),
            org_id: None,
            owner_id: Some(2),
            value: Some(Money {
                amount: 1200.0,
                currency: "EUR".into(),
            }),
            expected_close_date: chrono::NaiveDate::from_ymd_opt(2026, 3, 1),
            label: Some("Hot".into()),
        },
        vec!["f08b42a0-4e75-11ea-9643-03698ef1cfd6".into()],
    );
    let v = serde_json::to_value(&body).unwrap();
    assert_eq!(
        v["value"],
        serde_json::json!({"amount": 1200.0, "currency": "EUR"})
    );
    assert_eq!(v["expected_close_date"], "2026-03-01");
    assert_eq!(v["origin_id"], LEAD_ORIGIN_ID);
    assert!(v.get("organization_id").is_none());
}

#[test]
fn activity_links_people_as_participants_and_lead_as_string() {
    let body = ActivityBody::from_new(&NewActivity {
        subject: "Call".into(),
        kind: "call".into(),
        due_date: chrono::NaiveDate::from_ymd_opt(2026, 1, 2).unwrap(),
        owner_id: None,
        target: Some(Target::Lead("abc".into())),
        person_id: Some(5),
        org_id: None,
    });
    let v = serde_json::to_value(&body).unwrap();
    assert_eq!(
        v["participants"],
        serde_json::json!([{"person_id": 5, "primary": true}])
    );
    assert_eq!(v["lead_id"], "abc");
    assert!(v.get("person_id").is_none());
    assert_eq!(v["type"], "call");
}

#[test]
fn error_messages_from_every_shape() {
    let m = |s: &str| ErrorBody::parse(s.as_bytes()).message().unwrap();
    assert_eq!(
        m(
            r#"{"success":false,"error":"requested lead not found","error_info":"Object was not found."}"#
        ),
        "requested lead not found — Object was not found."
    );
    assert_eq!(m(r#"{"success":false,"message":"Forbidden"}"#), "Forbidden");
    assert_eq!(
        m(
            r#"{"status":"error","success":false,"errors":{"subscription_url":["invalid or non-reachable URL"]}}"#
        ),
        "subscription_url: invalid or non-reachable URL"
    );
    assert_eq!(m("<html>Bad gateway</html>"), "<html>Bad gateway</html>");
}

#[test]
fn admin_from_access_or_flag() {
    let u: User = serde_json::from_str(
        r#"{"id":1,"name":"A","email":"a@x","access":[{"app":"sales","admin":true},{"app":"global","admin":true}]}"#,
    )
    .unwrap();
    assert!(u.is_admin());
    let u: User =
        serde_json::from_str(r#"{"id":1,"is_admin":0,"access":[{"app":"sales","admin":true}]}"#)
            .unwrap();
    assert!(!u.is_admin());
    let u: User = serde_json::from_str(r#"{"id":1,"is_admin":1}"#).unwrap();
    assert!(u.is_admin());
}

#[test]
fn only_http_pictures_are_kept() {
    let icon = |json: &str| {
        serde_json::from_str::<User>(json)
            .unwrap()
            .to_crm_user()
            .icon_url
    };
    assert_eq!(
        icon(r#"{"id":1,"icon_url":"https://iconurl.net/profile_120x120_123.jpg"}"#).as_deref(),
        Some("https://iconurl.net/profile_120x120_123.jpg")
    );
    assert_eq!(icon(r#"{"id":1,"icon_url":null}"#), None);
    assert_eq!(icon(r#"{"id":1}"#), None);
    assert_eq!(icon(r#"{"id":1,"icon_url":"javascript:alert(1)"}"#), None);
    assert_eq!(icon(r#"{"id":1,"icon_url":"/relative.png"}"#), None);
}
