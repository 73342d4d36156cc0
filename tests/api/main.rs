//! The integration suite: one binary, every test on every configured backend.

mod helpers;

mod access_matrix;
mod auth;
mod browser;
mod cli;
mod delivery;
mod departments;
mod directory;
mod email;
mod fuzz_seeds;
mod idempotency;
mod imap;
mod kpis;
mod migrations;
mod phone;
mod quality;
mod reports;
mod routing;
mod sla;
mod system;
mod tickets;
mod trends;
mod web_form;
