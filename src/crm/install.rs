//! Finishing an install (code exchange → `/users/me` → company → sealed tokens → the
//! company's waiting outbox rows made due → users → the CRM's webhooks about deals and leads) and
//! carrying out an uninstall (webhooks removed, then tokens and personal data).

use crate::crm::{Crm, CrmError, Me};
use crate::db::{self, Db, DbConn, DbError, companies, installs, purge};

use super::access::CrmAccess;
use super::oauth::OAuthError;

/// What an install produced.
#[derive(Debug, Clone)]
pub struct Installed {
    pub company_id: String,
    pub company_name: String,
    pub crm_company_id: i64,
    pub installed_by: String,
    pub api_domain: String,
    /// `None` when the user list could not be read (the settings page can sync later).
    pub users_synced: Option<usize>,
    /// `None` when the CRM's webhooks could not be created (deal outcomes then stay
    /// unknown until the next install).
    pub webhooks: Option<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    #[error("the CRM did not say who installed: {0}")]
    Me(CrmError),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Exchange `code` and store the install of the user who granted it. `claim_demo`: the
/// sandbox CRM stands in, and its company may take over the seeded demo company.
/// `public_url`: where the CRM's webhooks reach this app.
pub async fn complete(
    access: &CrmAccess,
    db: &Db,
    code: &str,
    claim_demo: bool,
    public_url: &str,
) -> Result<Installed, InstallError> {
    let grant = access.oauth().exchange_code(code).await?;
    // No company yet: a throw-away budget slot keyed by the domain.
    let probe = access.client(
        &grant.api_domain,
        grant.access_token.clone(),
        &format!("install:{}", grant.api_domain),
    );
    let me = probe.me().await.map_err(InstallError::Me)?;
    let now = db::now_ms();
    let domain = grant.api_domain.clone();
    let me_for_db = me.clone();
    let company = db
        .run(move |conn| company_for(conn, &me_for_db, &domain, claim_demo))
        .await?;
    let sealed = access.seal(&company.id, me.user.id, &grant, now);
    let (company_id, user_id) = (company.id.clone(), me.user.id);
    db.run(move |conn| installs::save(conn, &company_id, user_id, &sealed, now))
        .await?;
    // Captures made before the CRM was connected wait for it: they go now.
    let company_id = company.id.clone();
    let woken = db
        .run(move |conn| crate::db::outbox::store::wake_company(conn, &company_id, now))
        .await?;
    let users_synced = match access.sync_users(&company.id).await {
        Ok(count) => Some(count.added + count.updated),
        Err(e) => {
            tracing::warn!(company_id = %company.id, error = %e, "user sync after install failed");
            None
        }
    };
    let webhooks = match super::webhooks::subscribe(access, db, &company.id, public_url).await {
        Ok(count) => Some(count),
        Err(e) => {
            tracing::warn!(company_id = %company.id, error = %e, "creating the CRM's webhooks failed");
            None
        }
    };
    tracing::info!(company_id = %company.id, crm_company_id = me.company_id, woken, "CRM installed");
    Ok(Installed {
        company_id: company.id,
        company_name: me.company_name,
        crm_company_id: me.company_id,
        installed_by: me.user.name,
        api_domain: grant.api_domain,
        users_synced,
        webhooks,
    })
}

/// The company of the CRM account: the one already linked to it; else, for the sandbox
/// CRM only (`claim_demo`), the seeded demo company when nothing has claimed it yet (the
/// one the shipped playbooks were loaded into); else a new one. A real CRM company never
/// takes over the demo company and its data.
pub fn company_for(
    conn: &mut DbConn,
    me: &Me,
    api_domain: &str,
    claim_demo: bool,
) -> Result<companies::Company, DbError> {
    db::write_tx(conn, |conn| {
        let company = match companies::by_crm_id(conn, me.company_id)? {
            Some(c) => c,
            None => match companies::first(conn)? {
                Some(first) if claim_demo && first.crm_company_id.is_none() => first,
                _ => companies::create(conn, &me.company_name, Some(me.company_id))?,
            },
        };
        companies::link_crm(
            conn,
            &company.id,
            me.company_id,
            &me.company_name,
            api_domain,
        )?;
        companies::by_id(conn, &company.id)?.ok_or(DbError::Query(diesel::result::Error::NotFound))
    })
}

/// The CRM's uninstall call for `crm_company_id`: remove the company's webhooks from the
/// CRM while its tokens may still work (a failure is logged: the CRM drops an uninstalled
/// app's webhooks itself, and the password they carry is forgotten here), then forget the
/// company's tokens and personal data, stop its timers and outbox rows. `false` when no
/// company has that CRM id.
pub async fn uninstall(access: &CrmAccess, db: &Db, crm_company_id: i64) -> Result<bool, DbError> {
    let found = db
        .run(move |conn| companies::by_crm_id(conn, crm_company_id))
        .await?;
    if let Some(company) = found
        && let Err(e) = super::webhooks::unsubscribe(access, db, &company.id).await
    {
        tracing::warn!(company_id = %company.id, error = %e, "removing the CRM's webhooks failed");
    }
    let now = db::now_ms();
    let purged = db
        .run(move |conn| {
            let Some(company) = companies::by_crm_id(conn, crm_company_id)? else {
                return Ok::<_, DbError>(None);
            };
            let purged = purge::uninstall(conn, &company.id, now)?;
            Ok(Some((company.id, purged)))
        })
        .await?;
    match purged {
        Some((company_id, purged)) => {
            access.forget(&company_id);
            tracing::info!(%company_id, ?purged, "CRM uninstalled");
            Ok(true)
        }
        None => Ok(false),
    }
}
