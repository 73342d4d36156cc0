//! `atencion`: helpdesk and contact-center backend of ChileCompra's Departamento de Atención
//! Usuaria.

pub mod attachments;
pub mod audit;
pub mod auth;
pub mod background;
pub mod canned;
pub mod catalog;
pub mod channels;
pub mod config;
pub mod db;
pub mod departments;
pub mod directory;
pub mod domain;
pub mod error;
pub mod http;
pub mod installation;
pub mod kpi;
pub mod metrics;
pub mod notifications;
pub mod paging;
pub mod quality;
pub mod reactions;
pub mod reference;
pub mod reports;
pub mod routing;
pub mod search;
pub mod secrets;
pub mod seed;
pub mod session;
pub mod sla;
pub mod startup;
pub mod telemetry;
pub mod tickets;
pub mod trends;
pub mod values;
pub mod workspace;
