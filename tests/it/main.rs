//! The integration tests: one binary, one module per area, sharing the support modules
//! (`common` — fresh databases and the real server; `crm_support` — the sandbox CRM;
//! `openapi_support` — Pipedrive's OpenAPI files; `server_log` — what a server did, for
//! failure reports; `wait` — waiting for something to happen;
//! `widget_support` — widget API calls).
// Test and benchmark code: a failed unwrap is the report, and results go to stdout.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

mod common;
mod crm_support;
mod node_process;
mod openapi_support;
/// The install as a browser makes it, shared with the benchmarks.
#[path = "../../benches/support/sandbox_install.rs"]
mod sandbox_install;
mod server_log;
mod wait;
mod widget_support;

mod admin_api;
mod admin_order;
mod admin_preview;
mod admin_yaml;
mod ai_generate;
mod api_fuzz;
mod browser;
mod browser_admin;
mod browser_editor;
mod browser_livechat;
mod browser_offers;
mod browser_reports;
mod browser_scenario;
mod cli_run;
mod crm_memory;
mod crm_webhooks;
mod demo_site;
mod engine_props;
mod hardening;
mod hardening_install;
mod hardening_slow;
mod http_card;
mod iframe_auth;
mod live_chat;
mod live_offers;
mod live_queue;
mod live_teams;
mod live_timers;
mod mail;
mod metrics;
mod multinode;
mod multinode_live;
mod nodes_r1;
mod nodes_r5;
mod oauth;
mod outbox_faults;
mod outbox_worker;
mod pipedrive_client;
mod pipedrive_openapi;
mod playbook_fuzz;
mod playbook_validate;
mod realtime;
mod report_rollups;
mod reports;
mod sandbox;
mod seed;
mod start_page;
mod storage;
mod sync_log;
mod visitor_api;
mod visitor_errors;
mod widget_size;
