DROP TABLE fixity_runs;
DROP TABLE fixity_checks;
DROP TABLE stored_files;
