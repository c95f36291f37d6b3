//! Visitors: the people on a company's website, anonymous until they give an e-mail.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::schema::visitors;
use super::{DbConn, DbError, new_id, stored_json};

/// A pause longer than this between two page loads starts a new visit.
pub const VISIT_GAP_MS: i64 = 30 * 60 * 1000;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = visitors)]
pub struct Visitor {
    pub id: String,
    pub company_id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    /// The company has their e-mail (identified by the site, or given to a playbook).
    pub known: bool,
    pub visits: i32,
    /// [`Attributes`] as JSON.
    pub attributes: String,
    pub first_seen_at: i64,
    pub last_seen_at: i64,
}

impl Visitor {
    /// Came back on a later visit.
    pub fn returning(&self) -> bool {
        self.visits > 1
    }

    /// The attributes. [`get`] checks them: a stored row with unreadable attributes is an
    /// error when read, so the default here is reached only by a row built in code.
    pub fn attributes(&self) -> Attributes {
        serde_json::from_str(&self.attributes).unwrap_or_default()
    }
}

/// What the app remembers about a visitor besides the columns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attributes {
    /// The page of the latest widget session (targeting of keyword triggers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<Page>,
    /// Slugs of the page-load and time-on-page playbooks this visitor went through to the
    /// end: they are not offered again, so the next one by priority shows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub finished: Vec<String>,
}

/// The page a visitor is on, as the widget reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Page {
    pub url: String,
    pub referrer: String,
    pub language: String,
    pub title: String,
}

fn to_json(a: &Attributes) -> Result<String, DbError> {
    serde_json::to_string(a).map_err(|e| DbError::Corrupt(e.to_string()))
}

/// A new visitor on their first visit.
pub fn create(
    conn: &mut DbConn,
    company_id: &str,
    page: &Page,
    now: i64,
) -> Result<Visitor, DbError> {
    let visitor = Visitor {
        id: new_id(),
        company_id: company_id.to_owned(),
        email: None,
        name: None,
        known: false,
        visits: 1,
        attributes: to_json(&Attributes {
            page: Some(page.clone()),
            finished: Vec::new(),
        })?,
        first_seen_at: now,
        last_seen_at: now,
    };
    diesel::insert_into(visitors::table)
        .values(&visitor)
        .execute(conn)?;
    Ok(visitor)
}

/// One visitor, only within the company.
pub fn get(conn: &mut DbConn, company_id: &str, id: &str) -> Result<Option<Visitor>, DbError> {
    let visitor: Option<Visitor> = visitors::table
        .find(id)
        .filter(visitors::company_id.eq(company_id))
        .select(Visitor::as_select())
        .first(conn)
        .optional()?;
    if let Some(v) = &visitor {
        stored_json::<Attributes>("visitors", &v.id, "attributes", &v.attributes)?;
    }
    Ok(visitor)
}

/// These visitors (of any company), each with the id of their open conversation if they
/// have one, in one statement: what a batch of visitor turns reads first.
pub fn with_open_conversation(
    conn: &mut DbConn,
    ids: &[String],
) -> Result<Vec<(Visitor, Option<String>)>, DbError> {
    use super::schema::conversations;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let found: Vec<(Visitor, Option<String>)> = visitors::table
        .left_join(
            conversations::table.on(conversations::visitor_id
                .eq(visitors::id)
                .and(conversations::company_id.eq(visitors::company_id))
                .and(conversations::closed_at.is_null())),
        )
        .filter(visitors::id.eq_any(ids))
        .select((Visitor::as_select(), conversations::id.nullable()))
        .load(conn)?;
    for (v, _) in &found {
        stored_json::<Attributes>("visitors", &v.id, "attributes", &v.attributes)?;
    }
    Ok(found)
}

/// These visitors (of any company), by id, in one statement.
pub fn get_many(
    conn: &mut DbConn,
    ids: &[String],
) -> Result<std::collections::HashMap<String, Visitor>, DbError> {
    let found: Vec<Visitor> = visitors::table
        .filter(visitors::id.eq_any(ids))
        .select(Visitor::as_select())
        .load(conn)?;
    let mut out = std::collections::HashMap::with_capacity(found.len());
    for v in found {
        stored_json::<Attributes>("visitors", &v.id, "attributes", &v.attributes)?;
        out.insert(v.id.clone(), v);
    }
    Ok(out)
}

/// A visitor loads a page again: counts a new visit after a long enough pause and keeps
/// the page. Returns the updated visitor.
pub fn seen(
    conn: &mut DbConn,
    mut visitor: Visitor,
    page: &Page,
    now: i64,
) -> Result<Visitor, DbError> {
    if now - visitor.last_seen_at > VISIT_GAP_MS {
        visitor.visits = visitor.visits.saturating_add(1);
    }
    visitor.last_seen_at = now;
    let mut attributes = visitor.attributes();
    attributes.page = Some(page.clone());
    visitor.attributes = to_json(&attributes)?;
    diesel::update(
        visitors::table
            .find(&visitor.id)
            .filter(visitors::company_id.eq(&visitor.company_id)),
    )
    .set((
        visitors::visits.eq(visitor.visits),
        visitors::last_seen_at.eq(now),
        visitors::attributes.eq(&visitor.attributes),
    ))
    .execute(conn)?;
    Ok(visitor)
}

/// The visitor gave (or the site confirmed) their e-mail: they are known from now on.
pub fn identify(
    conn: &mut DbConn,
    company_id: &str,
    id: &str,
    email: &str,
    name: Option<&str>,
) -> Result<(), DbError> {
    let target = visitors::table
        .find(id)
        .filter(visitors::company_id.eq(company_id));
    match name {
        Some(name) => diesel::update(target)
            .set((
                visitors::email.eq(email),
                visitors::name.eq(name),
                visitors::known.eq(true),
            ))
            .execute(conn)?,
        None => diesel::update(target)
            .set((visitors::email.eq(email), visitors::known.eq(true)))
            .execute(conn)?,
    };
    Ok(())
}

/// Remember that the visitor went through this automatically triggered playbook.
pub fn mark_finished(
    conn: &mut DbConn,
    company_id: &str,
    id: &str,
    slug: &str,
) -> Result<(), DbError> {
    let Some(mut visitor) = get(conn, company_id, id)? else {
        return Ok(());
    };
    let mut attributes = visitor.attributes();
    if attributes.finished.iter().any(|s| s == slug) {
        return Ok(());
    }
    attributes.finished.push(slug.to_owned());
    visitor.attributes = to_json(&attributes)?;
    diesel::update(visitors::table.find(id))
        .set(visitors::attributes.eq(&visitor.attributes))
        .execute(conn)?;
    Ok(())
}

/// Remember the visitor's name.
pub fn set_name(conn: &mut DbConn, company_id: &str, id: &str, name: &str) -> Result<(), DbError> {
    diesel::update(
        visitors::table
            .find(id)
            .filter(visitors::company_id.eq(company_id)),
    )
    .set(visitors::name.eq(name))
    .execute(conn)?;
    Ok(())
}
