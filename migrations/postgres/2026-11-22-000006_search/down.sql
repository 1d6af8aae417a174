DROP TABLE search_facets;
DROP TABLE search_documents;
