//! The CRM behind one trait. Pipedrive is the first implementation; the sandbox CRM
//! (served by this binary) speaks the same API, so the same client talks to both.
//!
//! Every method is one remote call at most. Callers (the outbox worker) decide about
//! retries from the [`CrmError`] class.

pub mod access;
pub mod install;
pub mod oauth;
pub mod outbox;
pub mod pipedrive;
pub mod runtime;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod secrets;
pub mod webhooks;

use std::future::Future;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Where a lead or deal reference points: leads have UUID ids, everything else integers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Target {
    Lead(String),
    Deal(i64),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewPerson {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub org_id: Option<i64>,
    pub owner_id: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewOrg {
    pub name: String,
    pub address: Option<String>,
    pub owner_id: Option<i64>,
}

/// A lead (v1) or a deal (v2); `create` chooses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewLeadOrDeal {
    pub title: String,
    pub person_id: Option<i64>,
    pub org_id: Option<i64>,
    pub owner_id: Option<i64>,
    pub value: Option<crate::playbook::model::Money>,
    pub expected_close_date: Option<NaiveDate>,
    /// Lead label name (resolved to its UUID by the client).
    pub label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewActivity {
    pub subject: String,
    /// Activity type key (`call`, `meeting`, `task`, `email`, …).
    pub kind: String,
    pub due_date: NaiveDate,
    pub owner_id: Option<i64>,
    pub target: Option<Target>,
    pub person_id: Option<i64>,
    pub org_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewNote {
    /// HTML: everything a visitor or rep typed is already escaped.
    pub content: String,
    pub target: Option<Target>,
    pub person_id: Option<i64>,
    pub org_id: Option<i64>,
}

/// A user as the CRM lists it; defined next to the table the sync writes it to.
pub use crate::db::crm_users::CrmUser;

/// `GET /users/me`: who installed, and in which company.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub user: CrmUser,
    pub company_id: i64,
    pub company_name: String,
    pub company_domain: Option<String>,
}

/// How a CRM call failed, which decides what the caller does next.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CrmError {
    /// Worth retrying later (5xx, timeouts before sending, connection refused).
    #[error("temporary CRM failure: {message}")]
    Transient {
        message: String,
        retry_after_secs: Option<u64>,
    },
    /// 429: the burst window or the daily budget is spent; wait this long.
    #[error("CRM rate limit reached ({scope}); retry in {retry_after_secs} s")]
    RateLimited {
        retry_after_secs: u64,
        scope: RateScope,
    },
    /// 401: the access token is no longer valid.
    #[error("CRM refused the access token")]
    Unauthorized,
    /// The request may have been applied (timeout after sending, connection reset): look
    /// the object up before creating it again.
    #[error("CRM call outcome unknown: {message}")]
    Ambiguous { message: String },
    /// Any other 4xx: retrying cannot help; keep the CRM's own message.
    #[error("CRM refused the request ({status}): {message}")]
    Permanent { status: u16, message: String },
}

impl CrmError {
    /// The failure's kind in one word, as the metrics count it.
    pub fn kind(&self) -> &'static str {
        match self {
            CrmError::RateLimited { .. } => "rate_limited",
            CrmError::Unauthorized => "unauthorized",
            CrmError::Transient { .. } => "transient",
            CrmError::Ambiguous { .. } => "ambiguous",
            CrmError::Permanent { .. } => "permanent",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateScope {
    Burst,
    Daily,
}

impl std::fmt::Display for RateScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RateScope::Burst => "burst",
            RateScope::Daily => "daily budget",
        })
    }
}

/// One CRM account, reached with one user's credentials.
pub trait Crm: Send + Sync {
    fn me(&self) -> impl Future<Output = Result<Me, CrmError>> + Send;
    fn users(&self) -> impl Future<Output = Result<Vec<CrmUser>, CrmError>> + Send;

    /// Exact e-mail match.
    fn find_person_by_email(
        &self,
        email: &str,
    ) -> impl Future<Output = Result<Option<i64>, CrmError>> + Send;
    /// Exact name match (used after an ambiguous create of a person without e-mail).
    fn find_person_by_name(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<i64>, CrmError>> + Send;
    fn create_person(&self, p: &NewPerson) -> impl Future<Output = Result<i64, CrmError>> + Send;

    /// Does the person with this id still exist? `false` when the CRM answers 404 or 410,
    /// or flags the person deleted (checked before a remembered id is used again).
    fn person_exists(&self, id: i64) -> impl Future<Output = Result<bool, CrmError>> + Send;

    /// Exact name match.
    fn find_org_by_name(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<i64>, CrmError>> + Send;
    fn create_org(&self, o: &NewOrg) -> impl Future<Output = Result<i64, CrmError>> + Send;
    /// Does the organization with this id still exist? As [`Crm::person_exists`].
    fn org_exists(&self, id: i64) -> impl Future<Output = Result<bool, CrmError>> + Send;

    fn create_lead(
        &self,
        l: &NewLeadOrDeal,
    ) -> impl Future<Output = Result<String, CrmError>> + Send;
    /// The lead with exactly this title linked to this person or organization.
    fn find_lead(
        &self,
        l: &NewLeadOrDeal,
    ) -> impl Future<Output = Result<Option<String>, CrmError>> + Send;
    fn create_deal(&self, d: &NewLeadOrDeal) -> impl Future<Output = Result<i64, CrmError>> + Send;
    /// The deal with exactly this title linked to this person or organization.
    fn find_deal(
        &self,
        d: &NewLeadOrDeal,
    ) -> impl Future<Output = Result<Option<i64>, CrmError>> + Send;

    fn create_activity(
        &self,
        a: &NewActivity,
    ) -> impl Future<Output = Result<i64, CrmError>> + Send;
    /// The activity with exactly this subject on this lead or deal.
    fn find_activity(
        &self,
        a: &NewActivity,
    ) -> impl Future<Output = Result<Option<i64>, CrmError>> + Send;

    fn create_note(&self, n: &NewNote) -> impl Future<Output = Result<i64, CrmError>> + Send;
    /// The note on this lead or deal whose content contains `marker`.
    fn find_note(
        &self,
        target: &Target,
        marker: &str,
    ) -> impl Future<Output = Result<Option<i64>, CrmError>> + Send;
}
