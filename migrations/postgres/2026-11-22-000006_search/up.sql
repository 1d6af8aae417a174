-- Search over published datasets. holdfast keeps these tables in step itself
-- (search::index_dataset inside the publishing transaction, `holdfast search reindex`):
-- one document per dataset (its latest published version) and the values it has under
-- each facet (so facet counts are GROUP BYs). Multi-valued text (creators, keywords)
-- is stored one value per line. The full-text vector is a generated column, weighted
-- title > keywords, creators > abstract, with a GIN index.
CREATE TABLE search_documents (
    dataset_id BIGINT PRIMARY KEY REFERENCES datasets(id) ON DELETE CASCADE,
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
    indexed_at TIMESTAMP NOT NULL,
    search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english'::regconfig, title), 'A')
        || setweight(to_tsvector('english'::regconfig, keywords), 'B')
        || setweight(to_tsvector('english'::regconfig, creators), 'B')
        || setweight(to_tsvector('english'::regconfig, abstract_text), 'C')
    ) STORED
);
CREATE INDEX search_documents_newest ON search_documents(published_at DESC, dataset_id DESC);
CREATE INDEX search_documents_text ON search_documents USING GIN (search_vector);

CREATE TABLE search_facets (
    dataset_id BIGINT NOT NULL REFERENCES search_documents(dataset_id) ON DELETE CASCADE,
    facet TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (dataset_id, facet, value)
);
CREATE INDEX search_facets_value ON search_facets(facet, value, dataset_id);
