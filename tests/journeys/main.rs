//! The user journeys, against the real server on a random port. Every journey runs on
//! SQLite, and again on PostgreSQL when HOLDFAST_TEST_DATABASE_URL is set. Their
//! harness is tests/support/ (docs/testing.md).

#[path = "../support/mod.rs"]
mod support;

mod access_matrix;
mod accounts;
mod api;
mod api_shapes;
mod citation;
mod cli;
mod crash;
mod crawlers;
mod datacite;
mod datacite_outages;
mod deposit;
mod errors;
mod federation;
mod federation_audit;
mod fixity;
mod harness;
mod history;
mod landing;
mod mail;
mod many_files;
mod metrics;
mod nodes;
mod oai;
mod oai_protocol;
mod oai_schema;
mod publish;
mod qa;
mod resourcesync;
mod s3;
mod samples;
mod search;
mod security;
mod slow_clients;
mod standards;
mod tombstone;
mod tus;
mod tus_protocol;
mod withdrawn;
mod workflow;
