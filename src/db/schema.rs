// @generated automatically by Diesel CLI.

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        token_hash -> Text,
        label -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    dataset_transitions (id) {
        id -> BigInt,
        dataset_id -> BigInt,
        from_state -> Text,
        to_state -> Text,
        actor_id -> Nullable<BigInt>,
        comment -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    dataset_versions (id) {
        id -> BigInt,
        dataset_id -> BigInt,
        number -> Integer,
        title -> Text,
        metadata -> Text,
        doi -> Nullable<Text>,
        ocfl_version -> Nullable<Integer>,
        published_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        standards -> Text,
    }
}

diesel::table! {
    datasets (id) {
        id -> BigInt,
        owner_id -> BigInt,
        state -> Text,
        concept_doi -> Nullable<Text>,
        ocfl_object_id -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        assignee_id -> Nullable<BigInt>,
        deaccession_reason -> Nullable<Text>,
    }
}

diesel::table! {
    dois (doi) {
        doi -> Text,
        dataset_id -> BigInt,
        version_id -> Nullable<BigInt>,
        state -> Text,
        url -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        provider_state -> Nullable<Text>,
        provider -> Nullable<Text>,
        provider_synced_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    federation_partners (id) {
        id -> BigInt,
        name -> Text,
        base_url -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        last_seen_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    federation_seen_requests (signature) {
        signature -> Text,
        seen_at -> Timestamp,
    }
}

diesel::table! {
    file_validations (id) {
        id -> BigInt,
        version_id -> BigInt,
        path -> Text,
        sha256 -> Text,
        fingerprint -> Text,
        status -> Text,
        errors -> BigInt,
        warnings -> BigInt,
        report -> Text,
        checked_at -> Timestamp,
    }
}

diesel::table! {
    fixity_checks (id) {
        id -> BigInt,
        stored_file_id -> Nullable<BigInt>,
        dataset_id -> BigInt,
        content_path -> Text,
        checked_at -> Timestamp,
        outcome -> Text,
        expected_sha256 -> Nullable<Text>,
        found_sha256 -> Nullable<Text>,
        expected_size -> Nullable<BigInt>,
        found_size -> Nullable<BigInt>,
        detail -> Text,
    }
}

diesel::table! {
    fixity_runs (id) {
        id -> BigInt,
        run_kind -> Text,
        started_at -> Timestamp,
        finished_at -> Timestamp,
        files -> BigInt,
        bytes -> BigInt,
        failures -> BigInt,
        busy_ms -> BigInt,
    }
}

diesel::table! {
    jobs (id) {
        id -> BigInt,
        kind -> Text,
        payload -> Text,
        dedupe_key -> Nullable<Text>,
        state -> Text,
        attempts -> Integer,
        max_attempts -> Integer,
        run_after -> Timestamp,
        locked_by -> Nullable<Text>,
        locked_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        progress_phase -> Nullable<Text>,
        progress_done -> Nullable<BigInt>,
        progress_total -> Nullable<BigInt>,
    }
}

diesel::table! {
    muted_notifications (user_id, kind) {
        user_id -> BigInt,
        kind -> Text,
    }
}

diesel::table! {
    oai_records (dataset_id) {
        dataset_id -> BigInt,
        datestamp -> Timestamp,
        deleted -> Bool,
    }
}

diesel::table! {
    oai_set_members (dataset_id, set_spec) {
        dataset_id -> BigInt,
        set_spec -> Text,
        set_name -> Text,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        recipient_id -> Nullable<BigInt>,
        to_address -> Text,
        kind -> Text,
        subject -> Text,
        body_text -> Text,
        body_html -> Text,
        state -> Text,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    premis_events (id) {
        id -> BigInt,
        event_uuid -> Text,
        dataset_id -> Nullable<BigInt>,
        version_number -> Nullable<Integer>,
        file_path -> Nullable<Text>,
        file_sha256 -> Nullable<Text>,
        event_type -> Text,
        event_datetime -> Timestamp,
        detail -> Text,
        outcome -> Text,
        outcome_detail -> Text,
        agent_type -> Text,
        agent_name -> Text,
        agent_user_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    replica_challenges (id) {
        id -> BigInt,
        partner_id -> BigInt,
        dataset_id -> BigInt,
        object_id -> Text,
        files -> Integer,
        failures -> Integer,
        outcome -> Text,
        detail -> Text,
        challenged_at -> Timestamp,
    }
}

diesel::table! {
    replica_copies (id) {
        id -> BigInt,
        partner_id -> BigInt,
        dataset_id -> BigInt,
        object_id -> Text,
        version_number -> Integer,
        inventory_digest -> Text,
        signature -> Text,
        received_at -> Timestamp,
        last_verified_at -> Nullable<Timestamp>,
        last_outcome -> Nullable<Text>,
    }
}

diesel::table! {
    replica_objects (id) {
        id -> BigInt,
        source_id -> BigInt,
        object_id -> Text,
        version_number -> Integer,
        inventory_digest -> Text,
        pulled_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
        receipt_sent_at -> Nullable<Timestamp>,
        source_dataset_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    replication_shortfalls (dataset_id) {
        dataset_id -> BigInt,
        copies -> Integer,
        since -> Timestamp,
        alerted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    replication_sources (id) {
        id -> BigInt,
        base_url -> Text,
        token -> Nullable<Text>,
        added_at -> Timestamp,
        pulled_through -> Nullable<Text>,
        last_pull_at -> Nullable<Timestamp>,
        last_outcome -> Nullable<Text>,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    samples (id) {
        id -> BigInt,
        dataset_id -> BigInt,
        version_id -> BigInt,
        igsn -> Nullable<Text>,
        name -> Text,
        name_key -> Text,
        parent_igsn -> Nullable<Text>,
        file_path -> Text,
        described -> Bool,
        attrs -> Text,
    }
}

diesel::table! {
    search_documents (dataset_id) {
        dataset_id -> BigInt,
        version_id -> BigInt,
        title -> Text,
        doi -> Nullable<Text>,
        creators -> Text,
        abstract_text -> Text,
        keywords -> Text,
        resource_type -> Text,
        license -> Text,
        publication_year -> Nullable<Integer>,
        published_at -> Timestamp,
        indexed_at -> Timestamp,
    }
}

diesel::table! {
    search_facets (dataset_id, facet, value) {
        dataset_id -> BigInt,
        facet -> Text,
        value -> Text,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        token_hash -> Text,
        user_id -> BigInt,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    sign_in_failures (id) {
        id -> BigInt,
        email -> Text,
        client_ip -> Text,
        failed_at -> Timestamp,
    }
}

diesel::table! {
    stored_files (id) {
        id -> BigInt,
        dataset_id -> BigInt,
        object_id -> Text,
        kind -> Text,
        content_path -> Text,
        sha256 -> Text,
        size -> BigInt,
        state -> Text,
        last_outcome -> Text,
        last_checked_at -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    ticket_events (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        item_id -> Nullable<BigInt>,
        actor_id -> Nullable<BigInt>,
        kind -> Text,
        body -> Text,
        attachment_name -> Nullable<Text>,
        attachment_blob -> Nullable<Text>,
        attachment_size -> Nullable<BigInt>,
        attachment_sha256 -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    ticket_items (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        file -> Text,
        code -> Text,
        standard -> Text,
        severity -> Text,
        state -> Text,
        occurrences -> BigInt,
        message -> Text,
        findings -> Text,
        waiver_reason -> Nullable<Text>,
        waived_by -> Nullable<BigInt>,
        waived_at -> Nullable<Timestamp>,
        first_seen_at -> Timestamp,
        last_seen_at -> Timestamp,
        resolved_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    tickets (id) {
        id -> BigInt,
        dataset_id -> BigInt,
        kind -> Text,
        title -> Text,
        state -> Text,
        opened_by -> Nullable<BigInt>,
        assignee_id -> Nullable<BigInt>,
        due_date -> Nullable<Date>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        closed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    tus_uploads (id) {
        id -> Text,
        owner_id -> BigInt,
        dataset_id -> BigInt,
        path -> Text,
        upload_length -> BigInt,
        upload_offset -> BigInt,
        hash_state -> Binary,
        expected_sha256 -> Nullable<Text>,
        metadata -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        completed_at -> Nullable<Timestamp>,
        writer -> Nullable<Text>,
        writer_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    usage_counts (dataset_id, version_number, kind) {
        dataset_id -> BigInt,
        version_number -> Integer,
        kind -> Text,
        hits -> BigInt,
    }
}

diesel::table! {
    usage_salts (day) {
        day -> Text,
        salt -> Text,
    }
}

diesel::table! {
    usage_visits (dataset_id, kind, visitor, hour_start) {
        dataset_id -> BigInt,
        kind -> Text,
        visitor -> Text,
        hour_start -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        email -> Text,
        name -> Text,
        role -> Text,
        password_hash -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    validation_runs (id) {
        id -> BigInt,
        dataset_id -> BigInt,
        version_id -> BigInt,
        state -> Text,
        reason -> Text,
        status -> Nullable<Text>,
        errors -> BigInt,
        warnings -> BigInt,
        files_checked -> Integer,
        files_reused -> Integer,
        bytes_checked -> BigInt,
        dataset_findings -> Text,
        error -> Nullable<Text>,
        created_at -> Timestamp,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    version_files (id) {
        id -> BigInt,
        version_id -> BigInt,
        path -> Text,
        case_key -> Text,
        size -> BigInt,
        sha256 -> Text,
        media_type -> Text,
        staged_name -> Nullable<Text>,
        content_path -> Nullable<Text>,
        created_at -> Timestamp,
        folder -> Text,
    }
}

diesel::table! {
    version_folders (version_id, folder) {
        version_id -> BigInt,
        folder -> Text,
        files -> BigInt,
        bytes -> BigInt,
    }
}

diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(dataset_transitions -> datasets (dataset_id));
diesel::joinable!(dataset_transitions -> users (actor_id));
diesel::joinable!(dataset_versions -> datasets (dataset_id));
diesel::joinable!(dois -> dataset_versions (version_id));
diesel::joinable!(dois -> datasets (dataset_id));
diesel::joinable!(file_validations -> dataset_versions (version_id));
diesel::joinable!(fixity_checks -> datasets (dataset_id));
diesel::joinable!(fixity_checks -> stored_files (stored_file_id));
diesel::joinable!(muted_notifications -> users (user_id));
diesel::joinable!(oai_records -> datasets (dataset_id));
diesel::joinable!(oai_set_members -> oai_records (dataset_id));
diesel::joinable!(outbox -> users (recipient_id));
diesel::joinable!(premis_events -> datasets (dataset_id));
diesel::joinable!(premis_events -> users (agent_user_id));
diesel::joinable!(replica_challenges -> datasets (dataset_id));
diesel::joinable!(replica_challenges -> federation_partners (partner_id));
diesel::joinable!(replica_copies -> datasets (dataset_id));
diesel::joinable!(replica_copies -> federation_partners (partner_id));
diesel::joinable!(replica_objects -> replication_sources (source_id));
diesel::joinable!(replication_shortfalls -> datasets (dataset_id));
diesel::joinable!(samples -> dataset_versions (version_id));
diesel::joinable!(samples -> datasets (dataset_id));
diesel::joinable!(search_documents -> dataset_versions (version_id));
diesel::joinable!(search_documents -> datasets (dataset_id));
diesel::joinable!(search_facets -> search_documents (dataset_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(stored_files -> datasets (dataset_id));
diesel::joinable!(ticket_events -> ticket_items (item_id));
diesel::joinable!(ticket_events -> tickets (ticket_id));
diesel::joinable!(ticket_events -> users (actor_id));
diesel::joinable!(ticket_items -> tickets (ticket_id));
diesel::joinable!(ticket_items -> users (waived_by));
diesel::joinable!(tickets -> datasets (dataset_id));
diesel::joinable!(tus_uploads -> datasets (dataset_id));
diesel::joinable!(tus_uploads -> users (owner_id));
diesel::joinable!(usage_counts -> datasets (dataset_id));
diesel::joinable!(validation_runs -> dataset_versions (version_id));
diesel::joinable!(validation_runs -> datasets (dataset_id));
diesel::joinable!(version_files -> dataset_versions (version_id));
diesel::joinable!(version_folders -> dataset_versions (version_id));

diesel::allow_tables_to_appear_in_same_query!(
    api_tokens,
    dataset_transitions,
    dataset_versions,
    datasets,
    dois,
    federation_partners,
    federation_seen_requests,
    file_validations,
    fixity_checks,
    fixity_runs,
    jobs,
    muted_notifications,
    oai_records,
    oai_set_members,
    outbox,
    premis_events,
    replica_challenges,
    replica_copies,
    replica_objects,
    replication_shortfalls,
    replication_sources,
    samples,
    search_documents,
    search_facets,
    sessions,
    sign_in_failures,
    stored_files,
    ticket_events,
    ticket_items,
    tickets,
    tus_uploads,
    usage_counts,
    usage_salts,
    usage_visits,
    users,
    validation_runs,
    version_files,
    version_folders,
);
