DROP TABLE premis_events;
