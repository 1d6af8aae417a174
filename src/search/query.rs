//! What a search asks for: the words typed, the facet filters, the order and the page,
//! parsed from query-string pairs and checked. The text never reaches SQL as text of
//! the statement: it is bound, and for FTS5 every word is a quoted string, so nothing a
//! person types (`"`, `AND (`, `*`, `NEAR`, `col:`) is read as a query operator.

use serde::Serialize;
use std::collections::BTreeMap;

use crate::error::{DomainError, FieldError};

/// Results per page unless `per_page` says otherwise.
pub const DEFAULT_PER_PAGE: i64 = 20;
/// The most results one page may hold.
pub const MAX_PER_PAGE: i64 = 100;
/// Pages past this are refused (deep paging costs the database and helps nobody).
pub const MAX_PAGE: i64 = 10_000;
/// Longest query text accepted.
pub const MAX_QUERY_CHARS: usize = 1_000;
/// Words and phrases of a query beyond this are ignored.
pub const MAX_QUERY_PARTS: usize = 32;
/// Most values one facet filter may name.
pub const MAX_FILTER_VALUES: usize = 20;
/// Longest facet value accepted in a filter (stored values are cut to this too).
pub const MAX_FACET_VALUE_CHARS: usize = 300;

/// A facet: a field whose values search counts and filters by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Facet {
    ResourceType,
    License,
    Subject,
    Creator,
    PublicationYear,
    Standard,
}

impl Facet {
    pub const ALL: [Facet; 6] = [
        Facet::ResourceType,
        Facet::License,
        Facet::Subject,
        Facet::Creator,
        Facet::PublicationYear,
        Facet::Standard,
    ];

    /// The name used in query strings, in the JSON `facets` object and in the
    /// `search_facets.facet` column.
    pub fn key(self) -> &'static str {
        match self {
            Facet::ResourceType => "resource_type",
            Facet::License => "license",
            Facet::Subject => "subject",
            Facet::Creator => "creator",
            Facet::PublicationYear => "publication_year",
            Facet::Standard => "standard",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Facet::ResourceType => "Resource type",
            Facet::License => "License",
            Facet::Subject => "Keyword",
            Facet::Creator => "Creator",
            Facet::PublicationYear => "Publication year",
            Facet::Standard => "Data standard",
        }
    }

    pub fn from_key(key: &str) -> Option<Facet> {
        Facet::ALL.into_iter().find(|f| f.key() == key)
    }
}

/// The order of results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    /// Best match first (needs query text; ties newest first).
    Relevance,
    /// Most recently published first.
    Newest,
}

impl SortOrder {
    pub fn as_str(self) -> &'static str {
        match self {
            SortOrder::Relevance => "relevance",
            SortOrder::Newest => "newest",
        }
    }

    fn parse(s: &str) -> Option<SortOrder> {
        match s {
            "relevance" => Some(SortOrder::Relevance),
            "newest" | "date" => Some(SortOrder::Newest),
            _ => None,
        }
    }
}

/// The words of a query: every word must match (in the title, abstract, keywords or
/// creators' names); a phrase in double quotes must match as written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TextQuery {
    /// Lower-case words, stop words left out, duplicates removed.
    pub terms: Vec<String>,
    /// Quoted phrases of two or more words, each word lower-case.
    pub phrases: Vec<Vec<String>>,
}

/// PostgreSQL's English stop words (tsearch_data/english.stop). Both backends leave them
/// out of queries so the same text finds the same datasets on either.
const STOP_WORDS: &[&str] = &[
    "i",
    "me",
    "my",
    "myself",
    "we",
    "our",
    "ours",
    "ourselves",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
    "he",
    "him",
    "his",
    "himself",
    "she",
    "her",
    "hers",
    "herself",
    "it",
    "its",
    "itself",
    "they",
    "them",
    "their",
    "theirs",
    "themselves",
    "what",
    "which",
    "who",
    "whom",
    "this",
    "that",
    "these",
    "those",
    "am",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "being",
    "have",
    "has",
    "had",
    "having",
    "do",
    "does",
    "did",
    "doing",
    "a",
    "an",
    "the",
    "and",
    "but",
    "if",
    "or",
    "because",
    "as",
    "until",
    "while",
    "of",
    "at",
    "by",
    "for",
    "with",
    "about",
    "against",
    "between",
    "into",
    "through",
    "during",
    "before",
    "after",
    "above",
    "below",
    "to",
    "from",
    "up",
    "down",
    "in",
    "out",
    "on",
    "off",
    "over",
    "under",
    "again",
    "further",
    "then",
    "once",
    "here",
    "there",
    "when",
    "where",
    "why",
    "how",
    "all",
    "any",
    "both",
    "each",
    "few",
    "more",
    "most",
    "other",
    "some",
    "such",
    "no",
    "nor",
    "not",
    "only",
    "own",
    "same",
    "so",
    "than",
    "too",
    "very",
    "s",
    "t",
    "can",
    "will",
    "just",
    "don",
    "should",
    "now",
];

fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.contains(&word)
}

/// Splits text into lower-case words: runs of letters and digits; everything else
/// (punctuation, operators, quotes, symbols) separates words.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

impl TextQuery {
    /// Reads what a person typed. Never fails: text with no usable word is an empty
    /// query (which lists every dataset).
    pub fn parse(input: &str) -> TextQuery {
        let mut q = TextQuery::default();
        // Segments alternate outside/inside double quotes; an unclosed quote runs to
        // the end of the text and counts as a phrase as well.
        for (i, segment) in input.split('"').enumerate() {
            let in_quotes = i % 2 == 1;
            let found = words(segment);
            if in_quotes && found.iter().filter(|w| !is_stop_word(w)).count() >= 2 {
                if !q.phrases.contains(&found) {
                    q.phrases.push(found);
                }
                continue;
            }
            for w in found {
                if !is_stop_word(&w) && !q.terms.contains(&w) {
                    q.terms.push(w);
                }
            }
        }
        // Keep the query bounded, phrases first (they were typed with more care).
        q.phrases.truncate(MAX_QUERY_PARTS);
        let room = MAX_QUERY_PARTS - q.phrases.len();
        q.terms.truncate(room);
        q
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty() && self.phrases.is_empty()
    }

    /// The FTS5 MATCH expression: each word and phrase a double-quoted string (quotes
    /// inside doubled, as FTS5 escapes them), all joined with AND. Quoted strings are
    /// never read as operators, column filters or prefix queries.
    pub fn fts5_expression(&self) -> String {
        let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        self.terms
            .iter()
            .map(|t| quote(t))
            .chain(self.phrases.iter().map(|p| quote(&p.join(" "))))
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// The plain words for PostgreSQL's `plainto_tsquery` (which ANDs them), if any.
    pub fn plain_words(&self) -> Option<String> {
        (!self.terms.is_empty()).then(|| self.terms.join(" "))
    }

    /// Each phrase as text for PostgreSQL's `phraseto_tsquery`.
    pub fn phrase_texts(&self) -> Vec<String> {
        self.phrases.iter().map(|p| p.join(" ")).collect()
    }
}

/// One search, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchRequest {
    /// The text as typed (trimmed), shown back in the search box.
    pub text: String,
    pub query: TextQuery,
    /// Facet filters: a dataset must have one of the values of each facet named.
    pub filters: BTreeMap<Facet, Vec<String>>,
    /// The order in effect: relevance only when there is query text.
    pub sort: SortOrder,
    pub page: i64,
    pub per_page: i64,
}

impl Default for SearchRequest {
    fn default() -> Self {
        SearchRequest {
            text: String::new(),
            query: TextQuery::default(),
            filters: BTreeMap::new(),
            sort: SortOrder::Newest,
            page: 1,
            per_page: DEFAULT_PER_PAGE,
        }
    }
}

fn whole_number(field: &str, value: &str, min: i64, max: i64) -> Result<i64, FieldError> {
    value
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            FieldError::new(
                field,
                format!("use a whole number from {min} to {max} (got '{value}')"),
            )
        })
}

fn without_controls(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

impl SearchRequest {
    /// Reads query-string pairs (`q`, `sort`, `page`, `per_page` and one pair per facet
    /// value, e.g. `subject=soil&subject=methane`). Unknown names are ignored; every bad
    /// value is reported with its parameter name.
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<SearchRequest, DomainError> {
        let mut req = SearchRequest::default();
        let mut errors = Vec::new();
        let mut sort = None;
        for (name, value) in pairs {
            match name.as_str() {
                "q" => {
                    let text = without_controls(value);
                    let text = text.trim();
                    if text.chars().count() > MAX_QUERY_CHARS {
                        errors.push(FieldError::new(
                            "q",
                            format!("use at most {MAX_QUERY_CHARS} characters"),
                        ));
                    } else {
                        req.text = text.to_string();
                    }
                }
                "sort" => match value.trim() {
                    "" => {}
                    v => match SortOrder::parse(v) {
                        Some(s) => sort = Some(s),
                        None => errors.push(FieldError::new(
                            "sort",
                            format!("'{v}' is not an order; use relevance or newest"),
                        )),
                    },
                },
                "page" => match whole_number("page", value, 1, MAX_PAGE) {
                    Ok(n) => req.page = n,
                    Err(e) => errors.push(e),
                },
                "per_page" => match whole_number("per_page", value, 1, MAX_PER_PAGE) {
                    Ok(n) => req.per_page = n,
                    Err(e) => errors.push(e),
                },
                other => {
                    let Some(facet) = Facet::from_key(other) else {
                        continue;
                    };
                    // Stored values hold no control characters (and PostgreSQL
                    // refuses a NUL in text), so such characters can only be noise.
                    let value = without_controls(value);
                    let value = value.trim();
                    if value.is_empty() {
                        continue;
                    }
                    if value.chars().count() > MAX_FACET_VALUE_CHARS {
                        errors.push(FieldError::new(
                            other,
                            format!("a value has at most {MAX_FACET_VALUE_CHARS} characters"),
                        ));
                        continue;
                    }
                    let values = req.filters.entry(facet).or_default();
                    if values.iter().any(|v| v == value) {
                        continue;
                    }
                    if values.len() >= MAX_FILTER_VALUES {
                        errors.push(FieldError::new(
                            other,
                            format!("name at most {MAX_FILTER_VALUES} values"),
                        ));
                        continue;
                    }
                    values.push(value.to_string());
                }
            }
        }
        errors.dedup();
        if !errors.is_empty() {
            return Err(DomainError::Invalid(errors));
        }
        req.query = TextQuery::parse(&req.text);
        req.sort = match (sort, req.query.is_empty()) {
            (_, true) => SortOrder::Newest,
            (Some(s), false) => s,
            (None, false) => SortOrder::Relevance,
        };
        Ok(req)
    }

    /// How many results come before this page.
    pub fn offset(&self) -> i64 {
        (self.page - 1) * self.per_page
    }

    /// Whether `value` is among the filters of `facet`.
    pub fn is_selected(&self, facet: Facet, value: &str) -> bool {
        self.filters
            .get(&facet)
            .is_some_and(|vs| vs.iter().any(|v| v == value))
    }

    /// The query-string pairs that ask for this search again (page 1 left implicit,
    /// the default order and page size too), for links.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if !self.text.is_empty() {
            pairs.push(("q", self.text.clone()));
        }
        let default_sort = if self.query.is_empty() {
            SortOrder::Newest
        } else {
            SortOrder::Relevance
        };
        if self.sort != default_sort {
            pairs.push(("sort", self.sort.as_str().to_string()));
        }
        for (facet, values) in &self.filters {
            for v in values {
                pairs.push((facet.key(), v.clone()));
            }
        }
        if self.per_page != DEFAULT_PER_PAGE {
            pairs.push(("per_page", self.per_page.to_string()));
        }
        if self.page != 1 {
            pairs.push(("page", self.page.to_string()));
        }
        pairs
    }
}
