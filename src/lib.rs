//! `atencion`: helpdesk and contact-center backend of ChileCompra's Departamento de Atención
//! Usuaria.

pub mod api;
pub mod audit;
pub mod auth;
pub mod channels;
pub mod config;
pub mod db;
pub mod departments;
pub mod directory;
pub mod domain;
pub mod error;
pub mod idempotency;
pub mod kpi;
pub mod metrics;
pub mod quality;
pub mod reports;
pub mod routing;
pub mod seed;
pub mod sla;
pub mod startup;
pub mod telemetry;
pub mod tickets;
pub mod trends;
