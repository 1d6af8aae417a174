DROP TABLE oai_set_members;
DROP TABLE oai_records;
