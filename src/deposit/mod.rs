//! Datasets, their versions and files: metadata, upload streaming, drafts.

pub mod access;
pub mod ingest;
pub mod listing;
pub mod metadata;
pub mod model;
pub mod service;
pub mod tus;
pub mod uploads;
pub mod validation;
