//! Companies: one CRM company that installed the app. Everything else hangs off one.

use base64::Engine as _;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::schema::companies;
use super::{DbConn, DbError, new_id, now_ms, stored_json};
use crate::playbook::model::Language;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = companies)]
pub struct Company {
    pub id: String,
    pub crm_company_id: Option<i64>,
    pub name: String,
    /// Carried by the embed snippet; identifies the company to the widget API.
    pub public_key: String,
    /// Signs visitor identities (`Concierge.identify({hash})`).
    pub identity_secret: String,
    pub api_domain: Option<String>,
    /// [`CompanySettings`] as JSON.
    pub settings: String,
    pub created_at: i64,
    /// Carried by every session of the company's users; an uninstall moves it on, which
    /// ends every session started before.
    pub session_epoch: i64,
    /// Set by an uninstall (Unix ms) until the next install: the widget is not available.
    pub uninstalled_at: Option<i64>,
}

impl Company {
    /// The settings. Every loader of this module checks them ([`checked`]): a stored row
    /// with unreadable settings is an error when read, so the default here is reached only
    /// by a row built in code with bad JSON.
    pub fn settings(&self) -> CompanySettings {
        serde_json::from_str(&self.settings).unwrap_or_default()
    }
}

/// A loaded row whose settings can be read; otherwise an error naming the company.
fn checked(company: Option<Company>) -> Result<Option<Company>, DbError> {
    if let Some(c) = &company {
        stored_json::<CompanySettings>("companies", &c.id, "settings", &c.settings)?;
    }
    Ok(company)
}

/// What an admin sets for the whole company.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct CompanySettings {
    pub bot_name: String,
    pub avatar_url: Option<String>,
    /// Accent colour of the widget, `#rrggbb`.
    pub color: String,
    /// `right` or `left`.
    pub position: String,
    /// IANA time zone of the business hours.
    pub timezone: String,
    /// Opening hours per weekday (0 = Monday), as `HH:MM-HH:MM` ranges; empty = closed.
    pub business_hours: Vec<Vec<String>>,
    /// Days the company is closed whatever the weekday's hours say, as `YYYY-MM-DD` in the
    /// company's time zone.
    pub holidays: Vec<String>,
    /// Who gets team notification e-mails (qualified lead, missed chat).
    pub notification_emails: Vec<String>,
    /// Words that leave a flow, unless a playbook sets its own.
    pub exit_words: Vec<String>,
    /// Reply when nothing matches a visitor's free text.
    pub fallback_reply: String,
    /// Seconds after which an inbox without heartbeat no longer counts as online.
    pub heartbeat_timeout_seconds: u32,
    /// The language new playbooks start in (a playbook's own `language` decides what its
    /// visitors read): `en`, `fr`, `pt`, `de` or `es`.
    #[schema(value_type = String)]
    pub language: Language,
    /// How live chat is shared among the reps.
    pub live_chat: LiveChatSettings,
}

/// The company's live chat rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct LiveChatSettings {
    /// Every rep sees every chat (else a chat assigned to a rep is hidden from the others).
    pub see_all_chats: bool,
    /// Open chats a rep may have at once.
    pub max_open_chats: u32,
    /// Minutes a visitor's message may stay unanswered before the chat goes back to
    /// Unassigned.
    pub unanswered_minutes: u32,
    /// New chats go to an online rep by themselves (the one with the fewest open chats).
    pub auto_assign: bool,
    /// Seconds a rep has to accept a chat offered by automatic assignment.
    pub offer_seconds: u32,
}

impl Default for LiveChatSettings {
    fn default() -> Self {
        LiveChatSettings {
            see_all_chats: false,
            max_open_chats: 5,
            unanswered_minutes: 3,
            auto_assign: false,
            offer_seconds: 30,
        }
    }
}

impl Default for CompanySettings {
    fn default() -> Self {
        let weekday = vec!["09:00-17:00".to_owned()];
        CompanySettings {
            bot_name: "Concierge".into(),
            avatar_url: None,
            color: "#2f6fed".into(),
            position: "right".into(),
            timezone: "UTC".into(),
            business_hours: vec![
                weekday.clone(),
                weekday.clone(),
                weekday.clone(),
                weekday.clone(),
                weekday,
                vec![],
                vec![],
            ],
            holidays: vec![],
            notification_emails: vec![],
            exit_words: vec!["stop".into(), "quit".into()],
            fallback_reply: "Thanks for your message! Someone from the team will get back to you."
                .into(),
            heartbeat_timeout_seconds: 30,
            language: Language::En,
            live_chat: LiveChatSettings::default(),
        }
    }
}

/// A random URL-safe token of `bytes` random bytes.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::fill(&mut buf[..]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// Create a company with fresh keys and default settings.
pub fn create(
    conn: &mut DbConn,
    name: &str,
    crm_company_id: Option<i64>,
) -> Result<Company, DbError> {
    let company = Company {
        id: new_id(),
        crm_company_id,
        name: name.to_owned(),
        public_key: format!("pk_{}", random_token(18)),
        identity_secret: random_token(32),
        api_domain: None,
        settings: serde_json::to_string(&CompanySettings::default())
            .map_err(|e| DbError::Corrupt(e.to_string()))?,
        created_at: now_ms(),
        session_epoch: 0,
        uninstalled_at: None,
    };
    diesel::insert_into(companies::table)
        .values(&company)
        .execute(conn)?;
    Ok(company)
}

pub fn by_id(conn: &mut DbConn, id: &str) -> Result<Option<Company>, DbError> {
    checked(
        companies::table
            .find(id)
            .select(Company::as_select())
            .first(conn)
            .optional()?,
    )
}

pub fn by_public_key(conn: &mut DbConn, key: &str) -> Result<Option<Company>, DbError> {
    checked(
        companies::table
            .filter(companies::public_key.eq(key))
            .select(Company::as_select())
            .first(conn)
            .optional()?,
    )
}

pub fn by_crm_id(conn: &mut DbConn, crm_company_id: i64) -> Result<Option<Company>, DbError> {
    checked(
        companies::table
            .filter(companies::crm_company_id.eq(crm_company_id))
            .select(Company::as_select())
            .first(conn)
            .optional()?,
    )
}

/// The oldest company (the one the demo and the shipped playbooks use).
pub fn first(conn: &mut DbConn) -> Result<Option<Company>, DbError> {
    checked(
        companies::table
            .order((companies::created_at.asc(), companies::id.asc()))
            .select(Company::as_select())
            .first(conn)
            .optional()?,
    )
}

pub fn update_settings(
    conn: &mut DbConn,
    id: &str,
    settings: &CompanySettings,
) -> Result<(), DbError> {
    let json = serde_json::to_string(settings).map_err(|e| DbError::Corrupt(e.to_string()))?;
    diesel::update(companies::table.find(id))
        .set(companies::settings.eq(json))
        .execute(conn)?;
    Ok(())
}

/// Tie a company to its CRM account (at install): CRM company id, name and API domain.
pub fn link_crm(
    conn: &mut DbConn,
    id: &str,
    crm_company_id: i64,
    name: &str,
    api_domain: &str,
) -> Result<(), DbError> {
    diesel::update(companies::table.find(id))
        .set((
            companies::crm_company_id.eq(Some(crm_company_id)),
            companies::name.eq(name),
            companies::api_domain.eq(Some(api_domain)),
            companies::uninstalled_at.eq(None::<i64>),
        ))
        .execute(conn)?;
    Ok(())
}

/// Mark the company uninstalled at `now` and end every session of its users.
pub fn mark_uninstalled(conn: &mut DbConn, id: &str, now: i64) -> Result<(), DbError> {
    diesel::update(companies::table.find(id))
        .set((
            companies::uninstalled_at.eq(Some(now)),
            companies::session_epoch.eq(companies::session_epoch + 1),
            companies::api_domain.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(())
}

/// Replace the identity secret (`Concierge.identify` hashes made with the old one stop
/// verifying). Returns the new secret.
pub fn rotate_identity_secret(conn: &mut DbConn, id: &str) -> Result<String, DbError> {
    let secret = random_token(32);
    diesel::update(companies::table.find(id))
        .set(companies::identity_secret.eq(&secret))
        .execute(conn)?;
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_saved_before_live_chat_existed_read_with_defaults() {
        let old = r##"{"bot_name":"Bot","color":"#112233","timezone":"Europe/Paris"}"##;
        let s: CompanySettings = serde_json::from_str(old).unwrap();
        assert_eq!(s.bot_name, "Bot");
        assert_eq!(s.timezone, "Europe/Paris");
        assert_eq!(s.live_chat, LiveChatSettings::default());
        assert_eq!(s.live_chat.max_open_chats, 5);
        assert_eq!(s.live_chat.unanswered_minutes, 3);
        assert_eq!(s.language, Language::En);
    }
}
