//! The integration suite: one binary, every test on every configured backend.

mod helpers;

mod access_matrix;
mod architecture;
mod attachment_store;
mod attachments;
mod auth;
mod browser;
mod canned;
mod cli;
mod delivery;
mod departments;
mod directory;
mod email;
mod followers;
mod fuzz_seeds;
mod idempotency;
mod imap;
mod kpis;
mod leases;
mod migrations;
mod notifications;
mod phone;
mod quality;
mod reports;
mod routing;
mod search;
mod secrets;
mod session;
mod sla;
mod system;
mod tickets;
mod trends;
mod uploads;
mod web_form;
mod workspace_live;
