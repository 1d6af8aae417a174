//! holdfast: a FAIR data archive. See docs/architecture.md for the module map: modules by
//! domain, a thin web layer, one error policy (`error`).

pub mod accounts;
pub mod app;
pub mod cli;
pub mod config;
pub mod crashpoint;
pub mod curation;
pub mod db;
pub mod deposit;
pub mod doi;
pub mod error;
pub mod federation;
pub mod fixity;
pub mod http_client;
pub mod jobs;
pub mod mail;
pub mod metrics;
pub mod node;
pub mod packaging;
pub mod preservation;
pub mod publish;
pub mod qa;
pub mod recovery;
pub mod samples;
pub mod search;
pub mod secret;
pub mod standards;
pub mod storage;
pub mod tickets;
pub mod usage;
pub mod web;
pub mod xml;
