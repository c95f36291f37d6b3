//! The request and answer bodies of `/api/admin/playbooks`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::web::admin::document::ApiProblem;

/// Shown / engaged / converted counts of the last 7 days.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Stats {
    pub shown: i64,
    pub engaged: i64,
    pub converted: i64,
}

/// A playbook as the list shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlaybookSummary {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub enabled: bool,
    pub priority: i64,
    /// The version visitors get; `null` until the first publish.
    pub published_version: Option<i32>,
    /// Unix ms of that version.
    pub published_at: Option<i64>,
    /// The draft differs from the published version (or nothing is published yet).
    pub has_unpublished_changes: bool,
    /// Problems in the draft (a draft with problems can be saved, not published).
    pub draft_problems: usize,
    /// The trigger and its targeting in words.
    pub trigger: String,
    pub stats_7_days: Stats,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlaybookList {
    pub playbooks: Vec<PlaybookSummary>,
}

/// One playbook with its draft.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlaybookDetail {
    #[serde(flatten)]
    pub summary: PlaybookSummary,
    /// The draft as the admin last wrote it (YAML unless it was sent as JSON).
    pub source: String,
    /// `yaml` or `json`.
    pub format: String,
    /// The draft as a JSON document (the last readable one).
    #[schema(value_type = Object)]
    pub document: Value,
    pub problems: Vec<ApiProblem>,
    /// Every path from start to an end, as text, when the draft is valid.
    pub paths: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Created {
    pub id: String,
    pub slug: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Problems {
    pub problems: Vec<ApiProblem>,
    /// Every path from start to an end, as text, when the document is valid.
    pub paths: Option<String>,
}

/// What `/api/admin/validate` found.
#[derive(Debug, Serialize, ToSchema)]
pub struct Checked {
    pub problems: Vec<ApiProblem>,
    /// Every path from start to an end, as text, when the document is valid.
    pub paths: Option<String>,
    /// The document as JSON when the text could be read (valid or not), for the flow graph.
    #[schema(value_type = Option<Object>)]
    pub document: Option<Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishBody {
    /// What changed, for the version list.
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublishedVersion {
    pub version: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionInfo {
    pub version: i32,
    pub note: String,
    /// Who published it; `null` for the shipped playbooks.
    pub author: Option<String>,
    /// Unix ms.
    pub published_at: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionList {
    pub versions: Vec<VersionInfo>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionDetail {
    #[serde(flatten)]
    pub info: VersionInfo,
    #[schema(value_type = Object)]
    pub document: Value,
    /// The version as YAML (for diffs and restore).
    pub yaml: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnabledBody {
    pub enabled: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnabledState {
    pub enabled: bool,
}

/// A delete that had to wait: conversations still run on the playbook.
#[derive(Debug, Serialize, ToSchema)]
pub struct SwitchedOff {
    pub deleted: bool,
    pub enabled: bool,
    pub running_conversations: i64,
    pub message: String,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ExportQuery {
    /// A published version; the draft when absent.
    pub version: Option<i32>,
}
