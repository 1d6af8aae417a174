//! Preservation: the PREMIS event history of every dataset (`events`).

pub mod events;
