//! Search over published datasets (issue 4): full text over titles, abstracts,
//! keywords and creators' names, facet counts and filters, relevance or date order,
//! pages.
//!
//! The index is three tables kept in step by this module, never by triggers alone:
//! `search_documents` (one row per published dataset, from its latest published
//! version), `search_facets` (its values per facet, so counts are GROUP BYs) and the
//! full-text index — an FTS5 table on SQLite, a generated tsvector column with a GIN
//! index on PostgreSQL. Publication calls [`index_dataset`] inside its transaction;
//! `holdfast search reindex` calls [`reindex_all`]; start-up calls [`backfill`] for
//! published datasets the index lacks.
//!
//! Only published versions are indexed, so drafts and submissions never appear; a
//! dataset in a hidden state (deaccessioned) is filtered out at query time as well.

mod index;
mod query;
mod run;
pub mod sitemap;

#[cfg(test)]
mod tests;

pub use index::{
    backfill, document_for, index_dataset, reindex_all, remove_dataset, standards_of, Document,
    ReindexOutcome,
};
pub use query::{
    Facet, SearchRequest, SortOrder, TextQuery, DEFAULT_PER_PAGE, MAX_FACET_VALUE_CHARS,
    MAX_FILTER_VALUES, MAX_PAGE, MAX_PER_PAGE, MAX_QUERY_CHARS, MAX_QUERY_PARTS,
};
pub use run::{
    search, FacetCount, FacetCounts, SearchHit, SearchResults, Snippet, FACET_VALUES_SHOWN,
};
