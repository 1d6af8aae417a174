//! Quality assurance: validation runs over a dataset's files (`validation`) and the QA
//! tickets that track each problem until it is fixed or waived (`tickets`).

pub mod tickets;
pub mod validation;
