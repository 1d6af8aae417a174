//! Endpoints other software speaks to by a published protocol: OAI-PMH 2.0 and
//! ResourceSync 1.1 for harvesters, tus 1.0 for resumable uploads, FAIR Signposting
//! link sets (RFC 9264), and the federation between holdfast archives (object files,
//! replica receipts and audits). The protocols' rules live in the domain
//! (`crate::federation`, `crate::doi::export::signposting`); these are their HTTP edges.

pub mod federation;
pub mod federation_audit;
pub mod oai;
pub mod resourcesync;
pub mod signposting;
pub mod tus;
