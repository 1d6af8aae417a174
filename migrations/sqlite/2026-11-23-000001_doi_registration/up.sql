-- What the DOI registration agency has confirmed for each DOI (draft, findable,
-- registered), beside `state`, what the archive asks for, and which provider (local,
-- datacite) confirmed it. NULL: not registered anywhere yet. Everything before this
-- migration was registered by the local registrar, whose table is the registry.
ALTER TABLE dois ADD COLUMN provider_state TEXT;
ALTER TABLE dois ADD COLUMN provider TEXT;
ALTER TABLE dois ADD COLUMN provider_synced_at TIMESTAMP;
UPDATE dois SET provider_state = state, provider = 'local', provider_synced_at = updated_at;
CREATE INDEX dois_dataset ON dois(dataset_id);
