//! The pages a visitor loaded, as the widget reports them when it starts on a page. The
//! inbox shows a chat's visitor's latest ones; each visitor keeps at most [`KEEP`].

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::schema::page_views;
use super::visitors::Page;
use super::{DbConn, DbError, new_id};

/// Views kept per visitor; older ones are dropped as new ones arrive.
pub const KEEP: i64 = 100;

/// One page view: the address, the page's title and when, Unix ms.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = page_views)]
pub struct PageView {
    pub url: String,
    pub title: String,
    #[serde(rename = "at")]
    pub viewed_at: i64,
}

/// Note that the visitor loaded `page` (nothing when the widget sent no address).
pub fn record(
    conn: &mut DbConn,
    company_id: &str,
    visitor_id: &str,
    page: &Page,
    now: i64,
) -> Result<(), DbError> {
    if !insert(conn, company_id, visitor_id, page, now)? {
        return Ok(());
    }
    let oldest_kept: Option<i64> = page_views::table
        .filter(page_views::visitor_id.eq(visitor_id))
        .filter(page_views::company_id.eq(company_id))
        .order((page_views::viewed_at.desc(), page_views::id.desc()))
        .select(page_views::viewed_at)
        .offset(KEEP - 1)
        .first(conn)
        .optional()?;
    if let Some(at) = oldest_kept {
        diesel::delete(
            page_views::table
                .filter(page_views::visitor_id.eq(visitor_id))
                .filter(page_views::company_id.eq(company_id))
                .filter(page_views::viewed_at.lt(at)),
        )
        .execute(conn)?;
    }
    Ok(())
}

/// Store the view without dropping older ones (a visitor created now has none); whether
/// there was one (an address).
pub fn insert(
    conn: &mut DbConn,
    company_id: &str,
    visitor_id: &str,
    page: &Page,
    now: i64,
) -> Result<bool, DbError> {
    if page.url.trim().is_empty() {
        return Ok(false);
    }
    diesel::insert_into(page_views::table)
        .values((
            page_views::id.eq(new_id()),
            page_views::company_id.eq(company_id),
            page_views::visitor_id.eq(visitor_id),
            page_views::url.eq(&page.url),
            page_views::title.eq(&page.title),
            page_views::viewed_at.eq(now),
        ))
        .execute(conn)?;
    Ok(true)
}

/// The visitor's latest `limit` page views, newest first.
pub fn latest(
    conn: &mut DbConn,
    company_id: &str,
    visitor_id: &str,
    limit: i64,
) -> Result<Vec<PageView>, DbError> {
    Ok(page_views::table
        .filter(page_views::visitor_id.eq(visitor_id))
        .filter(page_views::company_id.eq(company_id))
        .order((page_views::viewed_at.desc(), page_views::id.desc()))
        .limit(limit)
        .select(PageView::as_select())
        .load(conn)?)
}
