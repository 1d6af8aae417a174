//! Running a search: the SQL of each backend, built from fixed pieces with every
//! user-given value bound as a parameter.
//!
//! One search is four short statements: the total, the page of results, the facet
//! counts (GROUP BY over `search_facets`) and the snippets of the page's results. Facet
//! filters combine as OR within a facet and AND across facets; each facet's counts
//! apply every filter but its own, so a count says how many results choosing that
//! value gives.

use chrono::NaiveDateTime;
use diesel::backend::Backend as DieselBackend;
use diesel::deserialize::QueryableByName;
use diesel::pg::Pg;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, HasSqlType, Integer, Nullable, Text, Timestamp};
use diesel::sqlite::Sqlite;
use diesel::RunQueryDsl;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use super::index::HIDDEN_STATES;
use super::query::{Facet, SearchRequest, SortOrder};
use crate::db::{AnyConnection, Backend};
use crate::error::DomainError;

/// Values shown per facet (selected values are always shown as well).
pub const FACET_VALUES_SHOWN: i64 = 20;
/// Marks around matched words in snippets, as the database returns them.
const MARK_START: &str = "\u{2}";
const MARK_END: &str = "\u{3}";
/// Words of a snippet (FTS5 allows at most 64).
const SNIPPET_WORDS: i64 = 40;
/// Characters of the abstract shown when there is no query text.
const LEAD_CHARS: usize = 240;

/// One search's answer, serialised as the API's JSON.
#[derive(Clone, Debug, Serialize)]
pub struct SearchResults {
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    pub sort: SortOrder,
    pub results: Vec<SearchHit>,
    pub facets: FacetCounts,
}

impl SearchResults {
    /// Pages in all (at least 1).
    pub fn page_count(&self) -> i64 {
        ((self.total + self.per_page - 1) / self.per_page).max(1)
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct SearchHit {
    pub id: i64,
    pub title: String,
    pub doi: Option<String>,
    pub creators: Vec<String>,
    #[serde(serialize_with = "rfc3339")]
    pub published_at: NaiveDateTime,
    pub resource_type: String,
    pub license: String,
    pub publication_year: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snippet: Option<Snippet>,
}

fn rfc3339<S: Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.and_utc().to_rfc3339())
}

/// A piece of text around the matches: (text, is it a match) pieces. In JSON it is
/// the plain text; pages mark the matches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snippet(pub Vec<(String, bool)>);

impl Snippet {
    /// Reads text with matches between [`MARK_START`] and [`MARK_END`].
    fn from_marked(text: &str) -> Snippet {
        let mut parts = Vec::new();
        for (i, piece) in text.split(MARK_START).enumerate() {
            if i == 0 {
                if !piece.is_empty() {
                    parts.push((piece.replace(MARK_END, ""), false));
                }
                continue;
            }
            match piece.split_once(MARK_END) {
                Some((hit, rest)) => {
                    if !hit.is_empty() {
                        parts.push((hit.to_string(), true));
                    }
                    if !rest.is_empty() {
                        parts.push((rest.replace(MARK_END, ""), false));
                    }
                }
                None => parts.push((piece.to_string(), false)),
            }
        }
        Snippet(parts)
    }

    /// The start of a text, cut at a word end, for results without query text.
    fn lead(text: &str) -> Snippet {
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.chars().count() <= LEAD_CHARS {
            return Snippet(vec![(text, false)]);
        }
        let cut: String = text.chars().take(LEAD_CHARS).collect();
        let cut = match cut.rfind(' ') {
            Some(i) if i > LEAD_CHARS / 2 => &cut[..i],
            _ => cut.as_str(),
        };
        Snippet(vec![(format!("{cut}…"), false)])
    }

    pub fn text(&self) -> String {
        self.0.iter().map(|(t, _)| t.as_str()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|(t, _)| t.trim().is_empty())
    }
}

impl Serialize for Snippet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FacetCount {
    pub value: String,
    pub count: i64,
}

/// Counts per facet, in [`Facet::ALL`] order; serialised as an object keyed by facet.
#[derive(Clone, Debug, Default)]
pub struct FacetCounts(pub Vec<(Facet, Vec<FacetCount>)>);

impl FacetCounts {
    pub fn get(&self, facet: Facet) -> &[FacetCount] {
        self.0
            .iter()
            .find(|(f, _)| *f == facet)
            .map(|(_, v)| v.as_slice())
            .unwrap_or(&[])
    }
}

impl Serialize for FacetCounts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (facet, counts) in &self.0 {
            map.serialize_entry(facet.key(), counts)?;
        }
        map.end()
    }
}

/// A bound parameter.
#[derive(Clone, Debug, PartialEq)]
enum Bind {
    Text(String),
    Int(i64),
}

/// SQL text with its parameters; placeholders follow the backend (`?` or `$n`).
#[derive(Debug)]
struct Sql {
    backend: Backend,
    text: String,
    binds: Vec<Bind>,
}

impl Sql {
    fn new(backend: Backend) -> Sql {
        Sql {
            backend,
            text: String::new(),
            binds: Vec::new(),
        }
    }

    fn push(&mut self, s: &str) -> &mut Sql {
        self.text.push_str(s);
        self
    }

    fn bind(&mut self, value: Bind) -> &mut Sql {
        self.binds.push(value);
        match self.backend {
            Backend::Sqlite => self.text.push('?'),
            Backend::Postgres => {
                self.text.push('$');
                self.text.push_str(&self.binds.len().to_string());
            }
        }
        self
    }

    fn text(&mut self, value: &str) -> &mut Sql {
        self.bind(Bind::Text(value.to_string()))
    }

    fn int(&mut self, value: i64) -> &mut Sql {
        self.bind(Bind::Int(value))
    }

    /// `(?, ?, ...)` of text values.
    fn text_list<'a>(&mut self, values: impl IntoIterator<Item = &'a str>) -> &mut Sql {
        self.push("(");
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.text(v);
        }
        self.push(")")
    }
}

fn bind_all<'f, DB>(
    mut query: BoxedSqlQuery<'f, DB, SqlQuery>,
    binds: Vec<Bind>,
) -> BoxedSqlQuery<'f, DB, SqlQuery>
where
    DB: DieselBackend + HasSqlType<Text> + HasSqlType<BigInt>,
    String: ToSql<Text, DB>,
    i64: ToSql<BigInt, DB>,
{
    for b in binds {
        query = match b {
            Bind::Text(s) => query.bind::<Text, _>(s),
            Bind::Int(n) => query.bind::<BigInt, _>(n),
        };
    }
    query
}

fn load<T>(conn: &mut AnyConnection, sql: Sql) -> Result<Vec<T>, DomainError>
where
    T: QueryableByName<Sqlite> + QueryableByName<Pg> + 'static,
{
    let Sql { text, binds, .. } = sql;
    Ok(match conn {
        AnyConnection::Sqlite(c) => {
            bind_all(diesel::sql_query(text).into_boxed::<Sqlite>(), binds).load::<T>(c)?
        }
        AnyConnection::Postgresql(c) => {
            bind_all(diesel::sql_query(text).into_boxed::<Pg>(), binds).load::<T>(c)?
        }
    })
}

fn backend_of(conn: &AnyConnection) -> Backend {
    match conn {
        AnyConnection::Sqlite(_) => Backend::Sqlite,
        AnyConnection::Postgresql(_) => Backend::Postgres,
    }
}

/// PostgreSQL: the tsquery of the request's words and phrases (all must match).
fn push_tsquery(sql: &mut Sql, req: &SearchRequest) {
    let mut first = true;
    sql.push("(");
    if let Some(words) = req.query.plain_words() {
        sql.push("plainto_tsquery('english', ")
            .text(&words)
            .push(")");
        first = false;
    }
    for phrase in req.query.phrase_texts() {
        if !first {
            sql.push(" && ");
        }
        sql.push("phraseto_tsquery('english', ")
            .text(&phrase)
            .push(")");
        first = false;
    }
    sql.push(")");
}

/// FROM and WHERE of the matching published datasets (alias `d` for the document),
/// applying every filter but `except`'s.
fn push_matching(sql: &mut Sql, req: &SearchRequest, except: Option<Facet>) {
    let text = !req.query.is_empty();
    match (sql.backend, text) {
        (Backend::Sqlite, true) => {
            sql.push(
                " FROM search_fts JOIN search_documents d ON d.dataset_id = search_fts.rowid \
                 JOIN datasets ds ON ds.id = d.dataset_id WHERE search_fts MATCH ",
            )
            .text(&req.query.fts5_expression());
        }
        (Backend::Postgres, true) => {
            sql.push(
                " FROM search_documents d JOIN datasets ds ON ds.id = d.dataset_id \
                 WHERE d.search_vector @@ ",
            );
            push_tsquery(sql, req);
        }
        (_, false) => {
            sql.push(
                " FROM search_documents d JOIN datasets ds ON ds.id = d.dataset_id WHERE 1 = 1",
            );
        }
    }
    sql.push(" AND ds.state NOT IN ")
        .text_list(HIDDEN_STATES.iter().copied());
    for (facet, values) in &req.filters {
        if Some(*facet) == except || values.is_empty() {
            continue;
        }
        sql.push(" AND d.dataset_id IN (SELECT dataset_id FROM search_facets WHERE facet = ")
            .text(facet.key())
            .push(" AND value IN ")
            .text_list(values.iter().map(String::as_str))
            .push(")");
    }
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct HitRow {
    #[diesel(sql_type = BigInt)]
    dataset_id: i64,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Nullable<Text>)]
    doi: Option<String>,
    #[diesel(sql_type = Text)]
    creators: String,
    #[diesel(sql_type = Timestamp)]
    published_at: NaiveDateTime,
    #[diesel(sql_type = Text)]
    resource_type: String,
    #[diesel(sql_type = Text)]
    license: String,
    #[diesel(sql_type = Nullable<Integer>)]
    publication_year: Option<i32>,
    #[diesel(sql_type = Text)]
    abstract_text: String,
}

#[derive(QueryableByName)]
struct FacetRow {
    #[diesel(sql_type = Text)]
    facet: String,
    #[diesel(sql_type = Text)]
    value: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct SnippetRow {
    #[diesel(sql_type = BigInt)]
    dataset_id: i64,
    #[diesel(sql_type = Text)]
    snippet: String,
}

fn count(conn: &mut AnyConnection, req: &SearchRequest) -> Result<i64, DomainError> {
    let mut sql = Sql::new(backend_of(conn));
    sql.push("SELECT COUNT(*) AS n");
    push_matching(&mut sql, req, None);
    Ok(load::<CountRow>(conn, sql)?.first().map_or(0, |r| r.n))
}

fn page_of_hits(conn: &mut AnyConnection, req: &SearchRequest) -> Result<Vec<HitRow>, DomainError> {
    let backend = backend_of(conn);
    let mut sql = Sql::new(backend);
    sql.push(
        "SELECT d.dataset_id, d.title, d.doi, d.creators, d.published_at, d.resource_type, \
         d.license, d.publication_year, d.abstract_text",
    );
    push_matching(&mut sql, req, None);
    sql.push(" ORDER BY ");
    if req.sort == SortOrder::Relevance && !req.query.is_empty() {
        match backend {
            // bm25 is smaller for better matches; columns: title, abstract, keywords, creators.
            Backend::Sqlite => sql.push("bm25(search_fts, 10.0, 2.0, 5.0, 5.0), "),
            Backend::Postgres => {
                sql.push("ts_rank(d.search_vector, ");
                push_tsquery(&mut sql, req);
                sql.push(") DESC, ")
            }
        };
    }
    sql.push("d.published_at DESC, d.dataset_id DESC LIMIT ")
        .int(req.per_page)
        .push(" OFFSET ")
        .int(req.offset());
    load(conn, sql)
}

fn facet_counts(
    conn: &mut AnyConnection,
    req: &SearchRequest,
    facets: &[Facet],
    except: Option<Facet>,
) -> Result<Vec<FacetRow>, DomainError> {
    if facets.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(backend_of(conn));
    sql.push(
        "SELECT facet, value, n FROM (SELECT f.facet AS facet, f.value AS value, COUNT(*) AS n, \
         ROW_NUMBER() OVER (PARTITION BY f.facet ORDER BY COUNT(*) DESC, f.value ASC) AS place \
         FROM search_facets f WHERE f.facet IN ",
    )
    .text_list(facets.iter().map(|f| f.key()))
    .push(" AND f.dataset_id IN (SELECT d.dataset_id");
    push_matching(&mut sql, req, except);
    sql.push(") GROUP BY f.facet, f.value) counted WHERE place <= ")
        .int(FACET_VALUES_SHOWN);
    // Selected values stay listed whatever their rank.
    for facet in facets {
        if let Some(values) = req.filters.get(facet).filter(|v| !v.is_empty()) {
            sql.push(" OR (facet = ")
                .text(facet.key())
                .push(" AND value IN ")
                .text_list(values.iter().map(String::as_str))
                .push(")");
        }
    }
    load(conn, sql)
}

fn all_facet_counts(
    conn: &mut AnyConnection,
    req: &SearchRequest,
) -> Result<FacetCounts, DomainError> {
    let filtered: Vec<Facet> = Facet::ALL
        .into_iter()
        .filter(|f| req.filters.get(f).is_some_and(|v| !v.is_empty()))
        .collect();
    let others: Vec<Facet> = Facet::ALL
        .into_iter()
        .filter(|f| !filtered.contains(f))
        .collect();
    let mut rows = facet_counts(conn, req, &others, None)?;
    for facet in &filtered {
        rows.extend(facet_counts(conn, req, &[*facet], Some(*facet))?);
    }
    let mut out = FacetCounts::default();
    for facet in Facet::ALL {
        let mut counts: Vec<FacetCount> = rows
            .iter()
            .filter(|r| r.facet == facet.key())
            .map(|r| FacetCount {
                value: r.value.clone(),
                count: r.n,
            })
            .collect();
        // A selected value no result has any more still shows, with 0.
        if let Some(values) = req.filters.get(&facet) {
            for v in values {
                if !counts.iter().any(|c| c.value == *v) {
                    counts.push(FacetCount {
                        value: v.clone(),
                        count: 0,
                    });
                }
            }
        }
        counts.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
        out.0.push((facet, counts));
    }
    Ok(out)
}

fn snippets(
    conn: &mut AnyConnection,
    req: &SearchRequest,
    ids: &[i64],
) -> Result<Vec<SnippetRow>, DomainError> {
    if ids.is_empty() || req.query.is_empty() {
        return Ok(Vec::new());
    }
    let backend = backend_of(conn);
    let mut sql = Sql::new(backend);
    match backend {
        Backend::Sqlite => {
            sql.push("SELECT rowid AS dataset_id, snippet(search_fts, 1, ")
                .text(MARK_START)
                .push(", ")
                .text(MARK_END)
                .push(", '…', ")
                .int(SNIPPET_WORDS)
                .push(") AS snippet FROM search_fts WHERE search_fts MATCH ")
                .text(&req.query.fts5_expression())
                .push(" AND rowid IN (");
        }
        Backend::Postgres => {
            sql.push("SELECT dataset_id, ts_headline('english', abstract_text, ");
            push_tsquery(&mut sql, req);
            sql.push(", ")
                .text(&format!(
                    "StartSel={MARK_START}, StopSel={MARK_END}, MaxWords={SNIPPET_WORDS}, \
                     MinWords=15, MaxFragments=2, FragmentDelimiter=\" … \""
                ))
                .push(") AS snippet FROM search_documents WHERE dataset_id IN (");
        }
    }
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.int(*id);
    }
    sql.push(")");
    load(conn, sql)
}

/// Runs a search over published datasets.
pub fn search(conn: &mut AnyConnection, req: &SearchRequest) -> Result<SearchResults, DomainError> {
    let total = count(conn, req)?;
    let rows = if req.offset() < total {
        page_of_hits(conn, req)?
    } else {
        Vec::new()
    };
    let ids: Vec<i64> = rows.iter().map(|r| r.dataset_id).collect();
    let marked = snippets(conn, req, &ids)?;
    let facets = all_facet_counts(conn, req)?;
    let results = rows
        .into_iter()
        .map(|r| {
            let snippet = marked
                .iter()
                .find(|s| s.dataset_id == r.dataset_id)
                .map(|s| Snippet::from_marked(&s.snippet))
                .filter(|s| !s.is_empty())
                .or_else(|| Some(Snippet::lead(&r.abstract_text)))
                .filter(|s| !s.is_empty());
            SearchHit {
                id: r.dataset_id,
                title: r.title,
                doi: r.doi,
                creators: r
                    .creators
                    .lines()
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect(),
                published_at: r.published_at,
                resource_type: r.resource_type,
                license: r.license,
                publication_year: r.publication_year,
                snippet,
            }
        })
        .collect();
    Ok(SearchResults {
        total,
        page: req.page,
        per_page: req.per_page,
        sort: req.sort,
        results,
        facets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_backend() {
        let mut s = Sql::new(Backend::Postgres);
        s.push("a = ")
            .text("x")
            .push(" AND b IN ")
            .text_list(["y", "z"]);
        assert_eq!(s.text, "a = $1 AND b IN ($2, $3)");
        let mut s = Sql::new(Backend::Sqlite);
        s.push("a = ")
            .text("x")
            .push(" AND b IN ")
            .text_list(["y", "z"]);
        assert_eq!(s.text, "a = ? AND b IN (?, ?)");
        assert_eq!(s.binds.len(), 3);
    }

    #[test]
    fn user_text_is_bound_never_written_into_the_statement() {
        let pairs: Vec<(String, String)> = vec![
            ("q".into(), "x'); DROP TABLE datasets; --".into()),
            ("subject".into(), "' OR 1=1 --".into()),
        ];
        let req = SearchRequest::from_pairs(&pairs).expect("valid");
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let mut sql = Sql::new(backend);
            sql.push("SELECT COUNT(*) AS n");
            push_matching(&mut sql, &req, None);
            assert!(!sql.text.contains("DROP"), "{}", sql.text);
            assert!(!sql.text.contains("1=1"), "{}", sql.text);
            assert!(sql.binds.contains(&Bind::Text("' OR 1=1 --".into())));
        }
    }

    #[test]
    fn snippets_split_marked_matches() {
        let s = Snippet::from_marked("half-hourly \u{2}fluxes\u{3} of \u{2}CO2\u{3}");
        assert_eq!(
            s.0,
            vec![
                ("half-hourly ".to_string(), false),
                ("fluxes".to_string(), true),
                (" of ".to_string(), false),
                ("CO2".to_string(), true),
            ]
        );
        assert_eq!(s.text(), "half-hourly fluxes of CO2");
        // Stray marks never show.
        assert_eq!(Snippet::from_marked("a\u{3}b\u{2}c").text(), "abc");
    }

    #[test]
    fn leads_are_cut_at_a_word() {
        let long = "word ".repeat(100);
        let lead = Snippet::lead(&long).text();
        assert!(lead.ends_with('…'));
        assert!(lead.chars().count() <= LEAD_CHARS + 1);
        assert!(!lead.contains("wor…"));
        assert_eq!(Snippet::lead("short  text\n").text(), "short text");
    }
}
