//! Delivering one capture row, step by step, in dependency order: organization and person,
//! then the lead or deal, then the activity and the note.
//!
//! A step that fails is tried again within the attempt after a short pause (see
//! [`StepRetry`]): with a CRM failing one call in three, most failures cost a second, not
//! a backoff of the whole row.
//!
//! Rules that make it exactly-once in effect:
//! - every CRM id is recorded (through [`Recorder::record`]) before the next step starts;
//! - before a create is sent, the step is recorded as *unconfirmed*; only the recorded id
//!   clears that. An attempt that finds a step unconfirmed (the previous one failed or
//!   died after sending) looks the object up before creating it again;
//! - persons are looked up by e-mail and organizations by name before every create anyway,
//!   holding the locks of that e-mail and that name (see `identity_locks`), so two
//!   deliveries naming the same person or organization never both create it;
//! - a person or organization the company's captures created or found before is not
//!   searched for: its remembered CRM id is used once the CRM confirms the object still
//!   exists (one read of it, far cheaper than a search); an id the CRM says is gone is
//!   forgotten and the search runs as without it.

use std::future::Future;

use crate::crm::{Crm, CrmError, NewActivity, NewLeadOrDeal, NewNote, NewOrg, NewPerson, Target};
pub use crate::db::crm_identities::Kind;
use crate::playbook::effect::{ActivityData, CrmWrite, OrgData};
use crate::playbook::model::{CaptureTarget, NoteMode};

use super::backoff::StepRetry;
use super::progress::{Progress, Step};

/// Everything one delivery needs besides the CRM.
#[derive(Debug, Clone)]
pub struct Job {
    pub row_id: String,
    pub write: CrmWrite,
    /// The CRM user who owns what is created (`None`: the CRM's default).
    pub owner_id: Option<i64>,
    /// The note's HTML (already escaped), when a note is written.
    pub note_html: Option<String>,
    /// Name for a person the visitor gave neither name nor e-mail for.
    pub fallback_person_name: String,
}

/// Why a delivery stopped before the end.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("{}: {error}", step.name())]
    Crm { step: Step, error: CrmError },
    /// The progress could not be recorded (lease lost or database down): stop at once.
    #[error("{0}")]
    NotRecorded(String),
}

/// Stores progress durably; fails when this worker may no longer write the row.
pub trait Recorder: Send {
    /// What [`Recorder::find_or_create_lock`] holds until dropped.
    type Held: Send;

    fn record(&mut self, progress: &Progress) -> impl Future<Output = Result<(), String>> + Send;
    /// Called after each successful create, before it is recorded. `false` stops the
    /// delivery right there, as a crash would (used by crash tests).
    fn after_create(&mut self, _step: Step) -> bool {
        true
    }
    /// Held while persons and organizations are looked up and created, so two deliveries
    /// of one company (on any node) never both create the same one. `keys` name what is
    /// looked up (`identity_locks::keys`).
    fn find_or_create_lock(
        &mut self,
        keys: Vec<String>,
    ) -> impl Future<Output = Result<Self::Held, String>> + Send;

    /// The CRM id the company's captures created or found for this person's e-mail or
    /// organization's name, if remembered.
    fn remembered(
        &mut self,
        kind: Kind,
        value: &str,
    ) -> impl Future<Output = Result<Option<i64>, String>> + Send;
    /// Remember the CRM id of this e-mail or name.
    fn remember(
        &mut self,
        kind: Kind,
        value: &str,
        id: i64,
    ) -> impl Future<Output = Result<(), String>> + Send;
    /// Forget the remembered id `id` of this e-mail or name: the CRM says it is gone.
    fn forget(
        &mut self,
        kind: Kind,
        value: &str,
        id: i64,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

fn crm(step: Step) -> impl FnOnce(CrmError) -> StepError {
    move |error| StepError::Crm { step, error }
}

/// Run one step; after a failure worth it, pause and run it again within the attempt (the
/// step itself looks up what an unconfirmed create may have made), up to the tries of
/// `retry`. The step's last error ends the attempt.
macro_rules! with_tries {
    ($retry:expr, $step:expr) => {{
        let mut tried = 1;
        loop {
            match $step.await {
                Err(StepError::Crm { step, error }) => {
                    match $retry.pause_after(tried, &error, super::backoff::unit()) {
                        Some(pause) => {
                            let pause_ms = pause.as_millis() as u64;
                            tracing::debug!(step = step.name(), %error, pause_ms, "step tried again");
                            tokio::time::sleep(pause).await;
                            tried += 1;
                        }
                        None => break Err(StepError::Crm { step, error }),
                    }
                }
                other => break other,
            }
        }
    }};
}

/// Carry `job` forward from `progress` to the end, trying each step as `retry` says.
pub async fn deliver<C: Crm, R: Recorder>(
    client: &C,
    job: &Job,
    progress: &mut Progress,
    rec: &mut R,
    retry: &StepRetry,
) -> Result<(), StepError> {
    let w = &job.write;
    let needs_org =
        w.org.as_ref().is_some_and(|o| !o.name.trim().is_empty()) && progress.org_id.is_none();
    let needs_person = progress.person_id.is_none();
    let keys = super::identity_locks::keys(w, needs_org, needs_person);
    let serialised = if keys.is_empty() {
        None
    } else {
        Some(
            rec.find_or_create_lock(keys)
                .await
                .map_err(StepError::NotRecorded)?,
        )
    };
    if let Some(org) = &w.org
        && needs_org
    {
        with_tries!(retry, org_step(client, job, org, progress, rec))?;
    }
    if progress.person_id.is_none() && (has_person(w) || progress.org_id.is_none()) {
        with_tries!(retry, person_step(client, job, progress, rec))?;
    }
    drop(serialised);

    let target = with_tries!(retry, lead_or_deal_step(client, job, progress, rec))?;
    if let Some(a) = &w.activity
        && progress.activity_id.is_none()
    {
        with_tries!(retry, activity_step(client, job, a, &target, progress, rec))?;
    }
    if w.note == NoteMode::Transcript
        && progress.note_id.is_none()
        && let (Some(html), Some(target)) = (&job.note_html, &target)
    {
        with_tries!(retry, note_step(client, job, html, target, progress, rec))?;
    }
    Ok(())
}

/// The organization: its remembered id, else looked up by name, else created.
async fn org_step<C: Crm, R: Recorder>(
    client: &C,
    job: &Job,
    org: &OrgData,
    progress: &mut Progress,
    rec: &mut R,
) -> Result<(), StepError> {
    let step = Step::Org;
    let known = known_id(client, rec, Kind::Org, &org.name)
        .await
        .map_err(crm(step))?;
    let found = match known {
        Some(id) => Some(id),
        None => client
            .find_org_by_name(&org.name)
            .await
            .map_err(crm(step))?,
    };
    let new_org = NewOrg {
        name: org.name.trim().to_owned(),
        address: org.address.clone(),
        owner_id: job.owner_id,
    };
    let create = client.create_org(&new_org);
    let id = create_unless_found(progress, rec, step, found, create).await?;
    progress.org_id = Some(id);
    confirm(progress, rec, step).await?;
    remember(rec, Kind::Org, &org.name, known, id).await;
    Ok(())
}

/// The person: their remembered id, else looked up by e-mail, else created and linked to
/// the organization.
async fn person_step<C: Crm, R: Recorder>(
    client: &C,
    job: &Job,
    progress: &mut Progress,
    rec: &mut R,
) -> Result<(), StepError> {
    let step = Step::Person;
    let w = &job.write;
    let email = w
        .person
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    let name = person_name(job);
    let known = match email {
        Some(email) => known_id(client, rec, Kind::Person, email)
            .await
            .map_err(crm(step))?,
        None => None,
    };
    let found = match email {
        _ if known.is_some() => known,
        Some(email) => client
            .find_person_by_email(email)
            .await
            .map_err(crm(step))?,
        None if progress.unconfirmed == Some(step) => {
            client.find_person_by_name(&name).await.map_err(crm(step))?
        }
        None => None,
    };
    let new_person = NewPerson {
        name,
        email: email.map(str::to_owned),
        phone: w.person.phone.clone().filter(|p| !p.trim().is_empty()),
        org_id: progress.org_id,
        owner_id: job.owner_id,
    };
    let create = client.create_person(&new_person);
    let id = create_unless_found(progress, rec, step, found, create).await?;
    progress.person_id = Some(id);
    confirm(progress, rec, step).await?;
    if let Some(email) = email {
        remember(rec, Kind::Person, email, known, id).await;
    }
    Ok(())
}

/// The lead or deal, linked to the person and the organization: what the activity and the
/// note are attached to.
async fn lead_or_deal_step<C: Crm, R: Recorder>(
    client: &C,
    job: &Job,
    progress: &mut Progress,
    rec: &mut R,
) -> Result<Option<Target>, StepError> {
    let step = Step::LeadOrDeal;
    let w = &job.write;
    let lead_or_deal = NewLeadOrDeal {
        title: w.title.clone(),
        person_id: progress.person_id,
        org_id: progress.org_id,
        owner_id: job.owner_id,
        value: w.value.clone(),
        expected_close_date: w.expected_close_date,
        label: w.label.clone(),
    };
    Ok(match w.create {
        CaptureTarget::Lead => {
            if progress.lead_id.is_none() {
                let found =
                    look_up_if_unconfirmed(progress, step, client.find_lead(&lead_or_deal)).await?;
                let create = client.create_lead(&lead_or_deal);
                let id = create_unless_found(progress, rec, step, found, create).await?;
                progress.lead_id = Some(id);
                confirm(progress, rec, step).await?;
            }
            progress.lead_id.clone().map(Target::Lead)
        }
        CaptureTarget::Deal => {
            if progress.deal_id.is_none() {
                let found =
                    look_up_if_unconfirmed(progress, step, client.find_deal(&lead_or_deal)).await?;
                let create = client.create_deal(&lead_or_deal);
                let id = create_unless_found(progress, rec, step, found, create).await?;
                progress.deal_id = Some(id);
                confirm(progress, rec, step).await?;
            }
            progress.deal_id.map(Target::Deal)
        }
    })
}

/// The activity, linked to the lead or deal and the person.
async fn activity_step<C: Crm, R: Recorder>(
    client: &C,
    job: &Job,
    a: &ActivityData,
    target: &Option<Target>,
    progress: &mut Progress,
    rec: &mut R,
) -> Result<(), StepError> {
    let step = Step::Activity;
    let activity = NewActivity {
        subject: a.subject.clone(),
        kind: a.kind.clone(),
        due_date: a.due_date,
        owner_id: job.owner_id,
        target: target.clone(),
        person_id: progress.person_id,
        org_id: progress.org_id,
    };
    let found = look_up_if_unconfirmed(progress, step, client.find_activity(&activity)).await?;
    let create = client.create_activity(&activity);
    let id = create_unless_found(progress, rec, step, found, create).await?;
    progress.activity_id = Some(id);
    confirm(progress, rec, step).await
}

/// The transcript note on the lead or deal, found again by the row's marker.
async fn note_step<C: Crm, R: Recorder>(
    client: &C,
    job: &Job,
    html: &str,
    target: &Target,
    progress: &mut Progress,
    rec: &mut R,
) -> Result<(), StepError> {
    let step = Step::Note;
    let marker = super::note::marker(&job.row_id);
    let found = look_up_if_unconfirmed(progress, step, client.find_note(target, &marker)).await?;
    let new_note = NewNote {
        content: html.to_owned(),
        target: Some(target.clone()),
        person_id: None,
        org_id: None,
    };
    let create = client.create_note(&new_note);
    let id = create_unless_found(progress, rec, step, found, create).await?;
    progress.note_id = Some(id);
    confirm(progress, rec, step).await
}

fn has_person(w: &CrmWrite) -> bool {
    [&w.person.name, &w.person.email, &w.person.phone]
        .iter()
        .any(|v| v.as_deref().is_some_and(|s| !s.trim().is_empty()))
}

/// The person's name: as given; else, as a last resort, made from the e-mail address's
/// local part (`ada.lovelace@…` → "Ada Lovelace"); else the fallback.
fn person_name(job: &Job) -> String {
    let p = &job.write.person;
    p.name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .or_else(|| p.email.as_deref().and_then(name_from_email))
        .unwrap_or_else(|| job.fallback_person_name.clone())
}

/// "Ada Lovelace" from `ada.lovelace+news@example.com`: the local part without its `+`
/// tag, split at dots, dashes and underscores, each word capitalised. `None` when nothing
/// is left.
fn name_from_email(email: &str) -> Option<String> {
    let local = email.trim().split('@').next()?;
    let local = local.split('+').next()?;
    let words: Vec<String> = local
        .split(['.', '_', '-'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect())
                .unwrap_or_default()
        })
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// The remembered CRM id of this e-mail or name, when the CRM still has the object. An id
/// the CRM says is gone is forgotten; `None` then, as when nothing is remembered (the
/// caller searches). Memory that cannot be read counts as empty.
async fn known_id<C: Crm, R: Recorder>(
    client: &C,
    rec: &mut R,
    kind: Kind,
    value: &str,
) -> Result<Option<i64>, CrmError> {
    let id = match rec.remembered(kind, value).await {
        Ok(Some(id)) => id,
        Ok(None) => return Ok(None),
        Err(error) => {
            tracing::warn!(%error, kind = kind.as_str(), "cannot read the remembered CRM id");
            return Ok(None);
        }
    };
    let exists = match kind {
        Kind::Person => client.person_exists(id).await?,
        Kind::Org => client.org_exists(id).await?,
    };
    if !exists && let Err(error) = rec.forget(kind, value, id).await {
        tracing::warn!(%error, kind = kind.as_str(), "cannot forget a CRM id that is gone");
    }
    Ok(exists.then_some(id))
}

/// Remember `id` for this e-mail or name unless it is what was remembered already. The
/// memory only saves searches: a failure to write it is logged, not the delivery's.
async fn remember<R: Recorder>(rec: &mut R, kind: Kind, value: &str, known: Option<i64>, id: i64) {
    if known == Some(id) {
        return;
    }
    if let Err(error) = rec.remember(kind, value, id).await {
        tracing::warn!(%error, kind = kind.as_str(), "cannot remember a CRM id");
    }
}

/// The look-up after an unconfirmed attempt at `step` (the object may exist); nothing to
/// look up when the last attempt was confirmed.
async fn look_up_if_unconfirmed<T>(
    progress: &Progress,
    step: Step,
    find: impl Future<Output = Result<Option<T>, CrmError>>,
) -> Result<Option<T>, StepError> {
    if progress.unconfirmed == Some(step) {
        find.await.map_err(crm(step))
    } else {
        Ok(None)
    }
}

/// `found`, or the id `create` makes: the step is recorded as unconfirmed before the create
/// is sent, so an attempt that fails or dies after sending is looked up next time.
async fn create_unless_found<T, R: Recorder>(
    progress: &mut Progress,
    rec: &mut R,
    step: Step,
    found: Option<T>,
    create: impl Future<Output = Result<T, CrmError>>,
) -> Result<T, StepError> {
    if let Some(id) = found {
        return Ok(id);
    }
    mark_sent(progress, rec, step).await?;
    let id = create.await.map_err(crm(step))?;
    check_alive(rec, step)?;
    Ok(id)
}

async fn mark_sent<R: Recorder>(
    progress: &mut Progress,
    rec: &mut R,
    step: Step,
) -> Result<(), StepError> {
    if progress.unconfirmed != Some(step) {
        progress.unconfirmed = Some(step);
        rec.record(progress).await.map_err(StepError::NotRecorded)?;
    }
    Ok(())
}

fn check_alive<R: Recorder>(rec: &mut R, step: Step) -> Result<(), StepError> {
    if rec.after_create(step) {
        Ok(())
    } else {
        Err(StepError::NotRecorded(format!(
            "stopped after creating the {}",
            step.name()
        )))
    }
}

async fn confirm<R: Recorder>(
    progress: &mut Progress,
    rec: &mut R,
    step: Step,
) -> Result<(), StepError> {
    if progress.unconfirmed == Some(step) {
        progress.unconfirmed = None;
    }
    progress.step_succeeded();
    rec.record(progress).await.map_err(StepError::NotRecorded)
}

#[cfg(test)]
mod tests {
    use super::name_from_email;

    #[test]
    fn a_name_is_made_from_the_local_part_only_when_one_is_left() {
        assert_eq!(
            name_from_email("ada.lovelace+news@example.com").as_deref(),
            Some("Ada Lovelace")
        );
        assert_eq!(
            name_from_email("j_doe-x@x.test").as_deref(),
            Some("J Doe X")
        );
        assert_eq!(name_from_email("info@acme.test").as_deref(), Some("Info"));
        assert_eq!(name_from_email("+tag@acme.test"), None);
        assert_eq!(name_from_email(""), None);
    }
}
