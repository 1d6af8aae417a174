// One portable schema for both backends; the migrations under migrations/<backend>/ create it.

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
    sessions (id) {
        id -> BigInt,
        token_hash -> Text,
        user_id -> BigInt,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

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
    sign_in_failures (id) {
        id -> BigInt,
        email -> Text,
        client_ip -> Text,
        failed_at -> Timestamp,
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
    dois (doi) {
        doi -> Text,
        dataset_id -> BigInt,
        version_id -> Nullable<BigInt>,
        state -> Text,
        url -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(datasets -> users (owner_id));
diesel::joinable!(dataset_versions -> datasets (dataset_id));
diesel::joinable!(version_files -> dataset_versions (version_id));
diesel::joinable!(dataset_transitions -> datasets (dataset_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    sessions,
    api_tokens,
    sign_in_failures,
    datasets,
    dataset_versions,
    version_files,
    dataset_transitions,
    dois,
);
