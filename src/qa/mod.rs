//! Quality assurance: validation runs over a dataset's files. The QA tickets that track
//! each problem until it is fixed or waived live in `crate::tickets`.

pub mod validation;
