-- Search over published datasets. holdfast keeps these tables in step itself
-- (search::index_dataset inside the publishing transaction, `holdfast search reindex`):
-- one document per dataset (its latest published version), the values it has under
-- each facet (so facet counts are GROUP BYs), and an FTS5 index whose rowid is the
-- dataset id. Multi-valued text (creators, keywords) is stored one value per line.
CREATE TABLE search_documents (
    dataset_id INTEGER PRIMARY KEY NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    version_id BIGINT NOT NULL REFERENCES dataset_versions(id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    doi TEXT,
    creators TEXT NOT NULL,
    abstract_text TEXT NOT NULL,
    keywords TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    license TEXT NOT NULL,
    publication_year INTEGER,
    published_at TIMESTAMP NOT NULL,
    indexed_at TIMESTAMP NOT NULL
);
CREATE INDEX search_documents_newest ON search_documents(published_at DESC, dataset_id DESC);

CREATE TABLE search_facets (
    dataset_id BIGINT NOT NULL REFERENCES search_documents(dataset_id) ON DELETE CASCADE,
    facet TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (dataset_id, facet, value)
);
CREATE INDEX search_facets_value ON search_facets(facet, value, dataset_id);

-- A plain FTS5 table (it keeps its own copy of the text, which snippet() reads).
CREATE VIRTUAL TABLE search_fts USING fts5(
    title, abstract_text, keywords, creators,
    tokenize = 'porter unicode61 remove_diacritics 2'
);
