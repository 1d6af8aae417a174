-- Federation: partner archives that hold replicas of this archive's objects (origin
-- side) and the archives this one replicates (replica side). See src/federation.

-- Origin side. A partner node the admin registered; it authenticates with a token
-- (only its sha256 is kept) to see content that is not public and to send receipts.
-- base_url is where the partner's holdfast answers challenges.
CREATE TABLE federation_partners (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    base_url TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    last_seen_at TIMESTAMP
);

-- Origin side. One row per object version a partner reported (a receipt) that it
-- holds, with the inventory digest it holds and the receipt's signature; the last
-- challenge of that copy and its outcome ('passed' or 'failed').
CREATE TABLE replica_copies (
    id BIGSERIAL PRIMARY KEY,
    partner_id BIGINT NOT NULL REFERENCES federation_partners(id) ON DELETE CASCADE,
    dataset_id BIGINT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    object_id TEXT NOT NULL,
    version_number INTEGER NOT NULL,
    inventory_digest TEXT NOT NULL,
    signature TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL,
    last_verified_at TIMESTAMP,
    last_outcome TEXT,
    UNIQUE (partner_id, object_id, version_number)
);
CREATE INDEX replica_copies_dataset ON replica_copies(dataset_id);

-- Origin side. Every challenge sent to a partner and what came back.
CREATE TABLE replica_challenges (
    id BIGSERIAL PRIMARY KEY,
    partner_id BIGINT NOT NULL REFERENCES federation_partners(id) ON DELETE CASCADE,
    dataset_id BIGINT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    object_id TEXT NOT NULL,
    files INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    challenged_at TIMESTAMP NOT NULL
);
CREATE INDEX replica_challenges_partner ON replica_challenges(partner_id, challenged_at);

-- Origin side. A published dataset with fewer good copies outside the origin than the
-- replication policy asks, since when, and when its alert ticket was raised.
CREATE TABLE replication_shortfalls (
    dataset_id BIGINT PRIMARY KEY REFERENCES datasets(id) ON DELETE CASCADE,
    copies INTEGER NOT NULL,
    since TIMESTAMP NOT NULL,
    alerted_at TIMESTAMP
);

-- Replica side. An archive this one pulls from. The token (issued by the source's
-- admin) is kept in clear because it is presented to the source; it is optional for
-- public content. pulled_through is the change-list position already applied.
CREATE TABLE replication_sources (
    id BIGSERIAL PRIMARY KEY,
    base_url TEXT NOT NULL UNIQUE,
    token TEXT,
    added_at TIMESTAMP NOT NULL,
    pulled_through TEXT,
    last_pull_at TIMESTAMP,
    last_outcome TEXT,
    last_error TEXT
);

-- Replica side. One row per object version held from a source (in the source's own
-- OCFL root), with the inventory digest verified on arrival and when the receipt for
-- it reached the source.
CREATE TABLE replica_objects (
    id BIGSERIAL PRIMARY KEY,
    source_id BIGINT NOT NULL REFERENCES replication_sources(id) ON DELETE CASCADE,
    object_id TEXT NOT NULL,
    version_number INTEGER NOT NULL,
    inventory_digest TEXT NOT NULL,
    pulled_at TIMESTAMP NOT NULL,
    deleted_at TIMESTAMP,
    receipt_sent_at TIMESTAMP,
    UNIQUE (source_id, object_id, version_number)
);
