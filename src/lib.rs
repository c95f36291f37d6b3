//! Concierge: chat widget, chatbot playbooks and live chat that write leads into the CRM.

pub mod ai;
pub mod chat;
pub mod cli;
pub mod config;
pub mod crm;
pub mod db;
pub mod mail;
pub mod metrics;
pub mod playbook;
pub mod reports;
pub mod web;
