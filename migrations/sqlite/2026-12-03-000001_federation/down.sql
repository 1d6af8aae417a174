DROP TABLE replica_objects;
DROP TABLE replication_sources;
DROP TABLE replication_shortfalls;
DROP TABLE replica_challenges;
DROP TABLE replica_copies;
DROP TABLE federation_partners;
