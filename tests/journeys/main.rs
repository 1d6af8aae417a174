//! The user journeys, against the real server on a random port. Every journey runs on
//! SQLite, and again on PostgreSQL when HOLDFAST_TEST_DATABASE_URL is set.

mod helpers;

mod accounts;
mod api;
mod citation;
mod cli;
mod crash;
mod datacite;
mod deposit;
mod federation;
mod federation_audit;
mod fixity;
mod landing;
mod mail;
mod many_files;
mod nodes;
mod oai;
mod publish;
mod qa;
mod resourcesync;
mod s3;
mod samples;
mod search;
mod security;
mod standards;
mod tus;
mod workflow;
