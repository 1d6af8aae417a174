DROP TABLE federation_seen_requests;
