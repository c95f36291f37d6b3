//! The Pipedrive client: [`PipedriveClient`] implements [`Crm`] over HTTPS with one user's
//! OAuth access token. The sandbox CRM speaks the same API, so this is also how the app
//! reaches the sandbox (its `api_domain` is `PUBLIC_URL/sandbox`).
//!
//! Usage: build one [`reqwest::Client`] with [`http_client`] and keep it; per OAuth token
//! keep one [`SharedState`] (rate budget, lead-label cache and the newest access token);
//! per call site make a cheap [`PipedriveClient::new`].
//!
//! Which API for what: v2 for persons, organizations, deals and activities (and their
//! lists and searches); v1 for leads, lead labels, notes and users. Look-ups that back the
//! outbox worker after an ambiguous failure (`find_lead`, `find_deal`, `find_activity`,
//! `find_note`) read the lists filtered by the linked person, lead or deal rather than the
//! search index: lists cost fewer tokens (20 or 10 against 40), are not under the search
//! burst limit, and show an object the moment it exists.

mod http;
pub mod rate;
pub mod wire;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::crm::{
    Crm, CrmError, CrmUser, Me, NewActivity, NewLeadOrDeal, NewNote, NewOrg, NewPerson, Target,
};
use secrecy::SecretString;

pub use http::{classify_failure, parse_success, rate_limit_of};
pub use rate::{Bucket, RateBudget, RateSnapshot};

use http::Call;
use wire::{
    ActivityBody, ActivityItem, DealBody, DealItem, IntId, LeadBody, LeadItem, LeadLabel, NoteBody,
    NoteItem, OrgBody, PersonBody, SearchData, User, UuidId,
};

/// Default time allowed for one call, connection included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
/// Default time the CRM may stay silent: before its answer starts, and between parts of
/// it. The CRM answers in well under a second; one that says nothing for this long is
/// cut off then rather than at [`DEFAULT_TIMEOUT`] (a write cut off so is ambiguous:
/// looked up before it is sent again).
pub const DEFAULT_SILENCE: Duration = Duration::from_secs(5);
/// Pages read at most by one look-up (100 items each).
const MAX_PAGES: usize = 10;
const PAGE: usize = 100;
/// A label missing from the cache triggers a reload only when the cache is older than this.
const LABEL_RELOAD_AFTER: Duration = Duration::from_secs(60);

/// Timeouts of the shared HTTP client.
#[derive(Debug, Clone, Copy)]
pub struct ClientOptions {
    /// Whole call: connect, send, answer.
    pub timeout: Duration,
    /// Connecting only; a connect failure is always safe to retry.
    pub connect_timeout: Duration,
    /// Silence: waiting for the answer to start, or for its next part.
    pub silence: Duration,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: Duration::from_secs(5),
            silence: DEFAULT_SILENCE,
        }
    }
}

/// The one HTTP client of the process for CRM calls (connection pool, timeouts).
pub fn http_client(opts: ClientOptions) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(opts.timeout)
        .connect_timeout(opts.connect_timeout)
        .read_timeout(opts.silence)
        .user_agent(concat!("concierge/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// What calls made for one company's install share: the rate budget, the lead labels and
/// the newest access token.
#[derive(Debug, Default)]
pub struct SharedState {
    pub budget: RateBudget,
    labels: tokio::sync::Mutex<Option<LabelCache>>,
    /// The newest access token a client was made with, and its version (the install's
    /// `updated_at`): a token refreshed by one delivery reaches the others in flight at
    /// their next call, rather than each of them getting a 401 of its own.
    newest_token: std::sync::RwLock<Option<(i64, SecretString)>>,
}

#[derive(Debug)]
struct LabelCache {
    loaded_at: Instant,
    /// Lower-cased name → UUID.
    by_name: HashMap<String, String>,
}

impl SharedState {
    pub fn new() -> Arc<SharedState> {
        Arc::new(SharedState::default())
    }

    /// Keep `token` when it is newer than the one kept.
    fn offer_token(&self, version: i64, token: &SecretString) {
        let mut newest = self.newest_token.write().unwrap_or_else(|p| p.into_inner());
        if newest.as_ref().is_none_or(|(v, _)| *v < version) {
            *newest = Some((version, token.clone()));
        }
    }

    /// The token kept, when it is newer than `version`.
    fn token_newer_than(&self, version: i64) -> Option<SecretString> {
        let newest = self.newest_token.read().unwrap_or_else(|p| p.into_inner());
        newest
            .as_ref()
            .filter(|(v, _)| *v > version)
            .map(|(_, t)| t.clone())
    }
}

/// One CRM account reached with one user's access token.
#[derive(Clone)]
pub struct PipedriveClient {
    http: reqwest::Client,
    /// `api_domain` without a trailing slash.
    base: String,
    token: SecretString,
    /// The version of `token` (0: unversioned); a newer one in `shared` is used instead.
    token_version: i64,
    shared: Arc<SharedState>,
}

impl std::fmt::Debug for PipedriveClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipedriveClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl PipedriveClient {
    /// `api_domain` as the token answer gave it, e.g. `https://acme.pipedrive.com`.
    pub fn new(
        http: reqwest::Client,
        api_domain: &str,
        access_token: SecretString,
        shared: Arc<SharedState>,
    ) -> PipedriveClient {
        PipedriveClient {
            http,
            base: api_domain.trim_end_matches('/').to_owned(),
            token: access_token,
            token_version: 0,
            shared,
        }
    }

    /// This client's token is version `version` of the install's tokens: it is offered to
    /// every client of the install, and any newer one offered later is used instead.
    pub fn versioned(mut self, version: i64) -> PipedriveClient {
        self.token_version = version;
        self.shared.offer_token(version, &self.token);
        self
    }

    /// The token to send: the newest the install's clients know of.
    fn bearer(&self) -> SecretString {
        self.shared
            .token_newer_than(self.token_version)
            .unwrap_or_else(|| self.token.clone())
    }

    /// The rate budget this client spends (shared with every client of the same token).
    pub fn budget(&self) -> &RateBudget {
        &self.shared.budget
    }

    async fn create_int<B: serde::Serialize>(&self, path: &str, body: &B) -> Result<i64, CrmError> {
        let env = self.send::<IntId>(Call::write(path, body)?).await?;
        env.data.map(|d| d.id).ok_or_else(no_id)
    }

    /// The first exact hit of a v2 search, confirmed by `accept`.
    async fn search_one(
        &self,
        path: &str,
        term: &str,
        field: &str,
        accept: impl Fn(&wire::SearchItem) -> bool,
    ) -> Result<Option<i64>, CrmError> {
        let term = term.trim();
        if term.is_empty() {
            return Ok(None);
        }
        let env = self
            .send::<SearchData>(Call::get(
                path,
                vec![
                    ("term", term.to_owned()),
                    ("fields", field.to_owned()),
                    ("exact_match", "true".into()),
                    ("limit", "10".into()),
                ],
            ))
            .await?;
        Ok(env
            .data
            .unwrap_or_default()
            .items
            .into_iter()
            .map(|h| h.item)
            .find(|i| accept(i))
            .map(|i| i.id))
    }

    /// Walk a v2 list (cursor paging) until `pick` finds something.
    async fn find_in_v2_list<T: serde::de::DeserializeOwned, R>(
        &self,
        path: &str,
        filter: Vec<(&'static str, String)>,
        pick: impl Fn(&T) -> Option<R>,
    ) -> Result<Option<R>, CrmError> {
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = filter.clone();
            query.push(("sort_by", "id".into()));
            query.push(("sort_direction", "desc".into()));
            query.push(("limit", PAGE.to_string()));
            if let Some(c) = &cursor {
                query.push(("cursor", c.clone()));
            }
            let env = self.send::<Vec<T>>(Call::get(path, query)).await?;
            if let Some(found) = env.data.unwrap_or_default().iter().find_map(&pick) {
                return Ok(Some(found));
            }
            cursor = env.additional_data.and_then(|a| a.next_cursor);
            if cursor.is_none() {
                break;
            }
        }
        Ok(None)
    }

    /// Walk a v1 list (start/limit paging) until `pick` finds something.
    async fn find_in_v1_list<T: serde::de::DeserializeOwned, R>(
        &self,
        path: &str,
        filter: Vec<(&'static str, String)>,
        pick: impl Fn(&T) -> Option<R>,
    ) -> Result<Option<R>, CrmError> {
        for page in 0..MAX_PAGES {
            let mut query = filter.clone();
            query.push(("start", (page * PAGE).to_string()));
            query.push(("limit", PAGE.to_string()));
            let env = self.send::<Vec<T>>(Call::get(path, query)).await?;
            if let Some(found) = env.data.unwrap_or_default().iter().find_map(&pick) {
                return Ok(Some(found));
            }
            if !env.additional_data.is_some_and(|a| a.more_v1()) {
                break;
            }
        }
        Ok(None)
    }

    /// `POST /api/v1/webhooks`: the new webhook's id.
    pub async fn create_webhook(&self, w: &wire::WebhookBody) -> Result<i64, CrmError> {
        self.create_int("/api/v1/webhooks", w).await
    }

    /// `DELETE /api/v1/webhooks/{id}`. A webhook the CRM no longer has (404) counts as
    /// removed.
    pub async fn delete_webhook(&self, id: i64) -> Result<(), CrmError> {
        let path = format!("/api/v1/webhooks/{id}");
        match self.send::<serde_json::Value>(Call::delete(&path)).await {
            Ok(_) | Err(CrmError::Permanent { status: 404, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `GET /api/v2/deals/{id}?include_fields=source_lead_id`: the lead the deal was
    /// converted from (Pipedrive's deal notices do not carry it; the field comes only when
    /// asked for). `None` for a deal made otherwise, or one the CRM no longer has.
    pub async fn deal_source_lead(&self, deal_id: i64) -> Result<Option<String>, CrmError> {
        let path = format!("/api/v2/deals/{deal_id}");
        let query = vec![("include_fields", "source_lead_id".to_owned())];
        match self
            .send::<serde_json::Value>(Call::get(&path, query))
            .await
        {
            Ok(env) => Ok(env
                .data
                .as_ref()
                .and_then(|d| d.get("source_lead_id"))
                .and_then(serde_json::Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)),
            Err(CrmError::Permanent { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The deal the CRM made of this lead when it was converted, if any: the deals of the
    /// lead's person (else its organization) with `include_fields=source_lead_id`, newest
    /// first (`GET /api/v2/deals`, a page per 100 deals). `None` when neither is known.
    pub async fn deal_converted_from(
        &self,
        lead_id: &str,
        person_id: Option<i64>,
        org_id: Option<i64>,
    ) -> Result<Option<wire::DealItem>, CrmError> {
        let link = match (person_id, org_id) {
            (Some(p), _) => ("person_id", p.to_string()),
            (None, Some(o)) => ("org_id", o.to_string()),
            (None, None) => return Ok(None),
        };
        let filter = vec![link, ("include_fields", "source_lead_id".to_owned())];
        self.find_in_v2_list::<DealItem, DealItem>("/api/v2/deals", filter, |item| {
            (item.source_lead_id.as_deref() == Some(lead_id)).then(|| item.clone())
        })
        .await
    }

    /// `GET` one person or organization (1 token): `false` when the CRM answers 404 or 410
    /// or flags it deleted.
    async fn exists(&self, path: &str) -> Result<bool, CrmError> {
        match self
            .send::<wire::Existing>(Call::get(path, Vec::new()))
            .await
        {
            Ok(env) => Ok(env.data.is_some_and(|d| !d.is_deleted)),
            Err(CrmError::Permanent {
                status: 404 | 410, ..
            }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The UUID of the lead label called `name` (any case).
    async fn label_id(&self, name: &str) -> Result<String, CrmError> {
        let key = name.trim().to_lowercase();
        let mut cache = self.shared.labels.lock().await;
        let fresh = cache.as_ref().is_some_and(|c| {
            c.by_name.contains_key(&key) || c.loaded_at.elapsed() < LABEL_RELOAD_AFTER
        });
        if !fresh {
            let env = self
                .send::<Vec<LeadLabel>>(Call::get("/api/v1/leadLabels", Vec::new()))
                .await?;
            *cache = Some(LabelCache {
                loaded_at: Instant::now(),
                by_name: env
                    .data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|l| (l.name.trim().to_lowercase(), l.id))
                    .collect(),
            });
        }
        cache
            .as_ref()
            .and_then(|c| c.by_name.get(&key).cloned())
            .ok_or_else(|| CrmError::Permanent {
                status: 404,
                message: format!("the CRM has no lead label called “{}”", name.trim()),
            })
    }
}

fn no_id() -> CrmError {
    CrmError::Ambiguous {
        message: "the CRM accepted the write but its answer has no id".into(),
    }
}

fn needs_person_or_org(l: &NewLeadOrDeal) -> Result<(), CrmError> {
    if l.person_id.is_none() && l.org_id.is_none() {
        return Err(CrmError::Permanent {
            status: 400,
            message: "not sent: a lead or deal needs a person or an organization".into(),
        });
    }
    Ok(())
}

/// The person or organization filter of a lead or deal look-up.
fn link_filter(l: &NewLeadOrDeal, org_key: &'static str) -> Option<Vec<(&'static str, String)>> {
    match (l.person_id, l.org_id) {
        (Some(p), _) => Some(vec![("person_id", p.to_string())]),
        (None, Some(o)) => Some(vec![(org_key, o.to_string())]),
        (None, None) => None,
    }
}

fn target_filter(t: &Target) -> Vec<(&'static str, String)> {
    match t {
        Target::Lead(id) => vec![("lead_id", id.clone())],
        Target::Deal(id) => vec![("deal_id", id.to_string())],
    }
}

impl Crm for PipedriveClient {
    async fn me(&self) -> Result<Me, CrmError> {
        let env = self
            .send::<User>(Call::get("/api/v1/users/me", Vec::new()))
            .await?;
        env.data
            .and_then(|u| u.to_me())
            .ok_or_else(|| CrmError::Transient {
                message: "the CRM's /users/me answer has no company".into(),
                retry_after_secs: None,
            })
    }

    async fn users(&self) -> Result<Vec<CrmUser>, CrmError> {
        let env = self
            .send::<Vec<User>>(Call::get("/api/v1/users", Vec::new()))
            .await?;
        Ok(env
            .data
            .unwrap_or_default()
            .iter()
            .map(User::to_crm_user)
            .collect())
    }

    async fn find_person_by_email(&self, email: &str) -> Result<Option<i64>, CrmError> {
        let want = email.trim().to_lowercase();
        self.search_one("/api/v2/persons/search", email, "email", |i| {
            i.emails.is_empty() || i.emails.iter().any(|e| e.trim().to_lowercase() == want)
        })
        .await
    }

    async fn find_person_by_name(&self, name: &str) -> Result<Option<i64>, CrmError> {
        let want = name.trim().to_lowercase();
        self.search_one("/api/v2/persons/search", name, "name", |i| {
            i.name
                .as_deref()
                .is_none_or(|n| n.trim().to_lowercase() == want)
        })
        .await
    }

    async fn person_exists(&self, id: i64) -> Result<bool, CrmError> {
        self.exists(&format!("/api/v2/persons/{id}")).await
    }

    async fn create_person(&self, p: &NewPerson) -> Result<i64, CrmError> {
        self.create_int("/api/v2/persons", &PersonBody::from_new(p))
            .await
    }

    async fn find_org_by_name(&self, name: &str) -> Result<Option<i64>, CrmError> {
        let want = name.trim().to_lowercase();
        self.search_one("/api/v2/organizations/search", name, "name", |i| {
            i.name
                .as_deref()
                .is_none_or(|n| n.trim().to_lowercase() == want)
        })
        .await
    }

    async fn create_org(&self, o: &NewOrg) -> Result<i64, CrmError> {
        self.create_int("/api/v2/organizations", &OrgBody::from_new(o))
            .await
    }

    async fn org_exists(&self, id: i64) -> Result<bool, CrmError> {
        self.exists(&format!("/api/v2/organizations/{id}")).await
    }

    async fn create_lead(&self, l: &NewLeadOrDeal) -> Result<String, CrmError> {
        needs_person_or_org(l)?;
        let label_ids = match l.label.as_deref().filter(|s| !s.trim().is_empty()) {
            Some(name) => vec![self.label_id(name).await?],
            None => Vec::new(),
        };
        let body = LeadBody::from_new(l, label_ids);
        let env = self
            .send::<UuidId>(Call::write("/api/v1/leads", &body)?)
            .await?;
        env.data.map(|d| d.id).ok_or_else(no_id)
    }

    async fn find_lead(&self, l: &NewLeadOrDeal) -> Result<Option<String>, CrmError> {
        let Some(filter) = link_filter(l, "organization_id") else {
            return Ok(None);
        };
        let title = l.title.trim();
        self.find_in_v1_list::<LeadItem, String>("/api/v1/leads", filter, |item| {
            (item.title.as_deref().map(str::trim) == Some(title)).then(|| item.id.clone())
        })
        .await
    }

    async fn create_deal(&self, d: &NewLeadOrDeal) -> Result<i64, CrmError> {
        needs_person_or_org(d)?;
        self.create_int("/api/v2/deals", &DealBody::from_new(d))
            .await
    }

    async fn find_deal(&self, d: &NewLeadOrDeal) -> Result<Option<i64>, CrmError> {
        let Some(filter) = link_filter(d, "org_id") else {
            return Ok(None);
        };
        let title = d.title.trim();
        self.find_in_v2_list::<DealItem, i64>("/api/v2/deals", filter, |item| {
            (item.title.as_deref().map(str::trim) == Some(title)).then_some(item.id)
        })
        .await
    }

    async fn create_activity(&self, a: &NewActivity) -> Result<i64, CrmError> {
        self.create_int("/api/v2/activities", &ActivityBody::from_new(a))
            .await
    }

    async fn find_activity(&self, a: &NewActivity) -> Result<Option<i64>, CrmError> {
        let filter = match (&a.target, a.person_id, a.org_id) {
            (Some(t), _, _) => target_filter(t),
            (None, Some(p), _) => vec![("person_id", p.to_string())],
            (None, None, Some(o)) => vec![("org_id", o.to_string())],
            (None, None, None) => return Ok(None),
        };
        let subject = a.subject.trim();
        self.find_in_v2_list::<ActivityItem, i64>("/api/v2/activities", filter, |item| {
            (item.subject.as_deref().map(str::trim) == Some(subject)).then_some(item.id)
        })
        .await
    }

    async fn create_note(&self, n: &NewNote) -> Result<i64, CrmError> {
        if n.target.is_none() && n.person_id.is_none() && n.org_id.is_none() {
            return Err(CrmError::Permanent {
                status: 400,
                message: "not sent: a note needs a lead, deal, person or organization".into(),
            });
        }
        self.create_int("/api/v1/notes", &NoteBody::from_new(n))
            .await
    }

    async fn find_note(&self, target: &Target, marker: &str) -> Result<Option<i64>, CrmError> {
        if marker.is_empty() {
            return Ok(None);
        }
        let mut filter = target_filter(target);
        filter.push(("sort", "add_time DESC".into()));
        self.find_in_v1_list::<NoteItem, i64>("/api/v1/notes", filter, |item| {
            item.content
                .as_deref()
                .is_some_and(|c| c.contains(marker))
                .then_some(item.id)
        })
        .await
    }
}
