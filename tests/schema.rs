//! `src/db/schema.rs` cannot drift from the migrations. diesel_cli (scripts/test installs
//! it into .tools and names it in HOLDFAST_DIESEL) applies each backend's migrations to
//! a fresh database and prints the schema it finds there; both prints must equal the
//! committed file.
//!
//! One file serves both backends, so the prints are reconciled by these rules, and any
//! other difference between the migration sets (a column missing, another type or
//! nullability, another column order) fails the test:
//! - SQLite's `INTEGER PRIMARY KEY` is a 64-bit rowid: printed as `BigInt`
//!   (`--sqlite-integer-primary-key-is-bigint`), like PostgreSQL's `BIGSERIAL`;
//! - primary-key columns are never NULL: SQLite reports them as nullable (it does not
//!   mark a primary key NOT NULL), PostgreSQL does not;
//! - PostgreSQL's type names are spelled as diesel's portable aliases of the same types
//!   (`Int8` is `BigInt`, `Int4` is `Integer`, `Bytea` is `Binary`, ...);
//! - each backend's own full-text index stays out: SQLite's FTS5 tables (`search_fts*`)
//!   and PostgreSQL's columns of its own types (`search_documents.search_vector`, a
//!   `tsvector`), which only `search/` reaches, in SQL written per backend.
//!
//! After changing a migration, write the file from the migrations:
//! `HOLDFAST_WRITE_SCHEMA=1 scripts/test --test schema`.

use std::path::PathBuf;
use std::process::Command;

type Error = Box<dyn std::error::Error>;

/// PostgreSQL's names of diesel's SQL types and the portable alias schema.rs uses.
const PG_ALIASES: &[(&str, &str)] = &[
    ("Int2", "SmallInt"),
    ("Int4", "Integer"),
    ("Int8", "BigInt"),
    ("Float4", "Float"),
    ("Float8", "Double"),
    ("Bytea", "Binary"),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn diesel() -> Result<PathBuf, Error> {
    let path = std::env::var("HOLDFAST_DIESEL").map_err(|_| {
        "HOLDFAST_DIESEL is not set: run the tests with scripts/test, which installs diesel_cli"
    })?;
    Ok(PathBuf::from(path))
}

/// Runs diesel_cli with `args`; its standard output, or an error with its output.
fn run(args: &[&str]) -> Result<String, Error> {
    let out = Command::new(diesel()?)
        .args(args)
        .current_dir(root())
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "diesel {}: {}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        )
        .into());
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// The schema diesel prints for a fresh database `url` after `backend`'s migrations.
fn printed_schema(backend: &str, url: &str, extra: &[&str]) -> Result<String, Error> {
    let migrations = root().join("migrations").join(backend);
    let migrations = migrations.to_str().ok_or("migrations path is not UTF-8")?;
    run(&[
        "database",
        "setup",
        "--no-default-migration",
        "--migration-dir",
        migrations,
        "--database-url",
        url,
    ])?;
    let mut args = vec!["print-schema", "--database-url", url];
    args.extend_from_slice(extra);
    run(&args)
}

/// A type name in a column's type replaced by `rename` (whole words only).
fn rename_types(ty: &str, mut rename: impl FnMut(&str) -> String) -> String {
    let mut out = String::new();
    let mut word = String::new();
    for c in ty.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            out.push_str(&rename(&std::mem::take(&mut word)));
            out.push(c);
        }
    }
    out.push_str(&rename(&word));
    out
}

/// SQLite's print with primary-key columns not nullable (SQLite reports them so).
fn portable_sqlite(print: &str) -> String {
    let mut out = String::new();
    let mut primary_key: Vec<String> = Vec::new();
    for line in print.split_inclusive('\n') {
        let trimmed = line.trim();
        if let Some((_, key)) = trimmed.strip_suffix(") {").and_then(|t| t.split_once(" (")) {
            primary_key = key.split(", ").map(str::to_string).collect();
        }
        let Some((column, ty)) = line.split_once(" -> ") else {
            out.push_str(line);
            continue;
        };
        let unwrapped = ty
            .strip_prefix("Nullable<")
            .and_then(|t| t.strip_suffix(">,\n"))
            .filter(|_| primary_key.iter().any(|k| k == column.trim()));
        match unwrapped {
            Some(inner) => out.push_str(&format!("{column} -> {inner},\n")),
            None => out.push_str(line),
        }
    }
    out
}

/// PostgreSQL's print with type names spelled as their portable aliases, and without
/// the columns of PostgreSQL's own types (declared in its `sql_types` module, which
/// goes too, with the `use` lines that bring them into a table).
fn portable_postgres(print: &str) -> String {
    let alias = |word: &str| {
        PG_ALIASES
            .iter()
            .find(|(pg, _)| *pg == word)
            .map_or(word.to_string(), |(_, alias)| alias.to_string())
    };
    let mut own_types: Vec<String> = Vec::new();
    let mut out = String::new();
    let mut in_sql_types = false;
    let mut skip_blank = false;
    for line in print.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed == "pub mod sql_types {" {
            in_sql_types = true;
            continue;
        }
        if in_sql_types {
            if let Some(name) = trimmed
                .strip_prefix("pub struct ")
                .and_then(|n| n.strip_suffix(';'))
            {
                own_types.push(name.to_string());
            }
            if line.starts_with('}') {
                in_sql_types = false;
                skip_blank = true;
            }
            continue;
        }
        if trimmed.starts_with("use diesel::sql_types::")
            || trimmed.starts_with("use super::sql_types::")
        {
            skip_blank = true;
            continue;
        }
        if skip_blank && trimmed.is_empty() {
            skip_blank = false;
            continue;
        }
        skip_blank = false;
        let Some((column, ty)) = line.split_once(" -> ") else {
            out.push_str(line);
            continue;
        };
        let mut own = false;
        let ty = rename_types(ty, |word| {
            own |= own_types.iter().any(|t| t == word);
            alias(word)
        });
        if !own {
            out.push_str(&format!("{column} -> {ty}"));
        }
    }
    out
}

/// The first line where `found` differs from `expected`, for the failure message.
fn first_difference(expected: &str, found: &str) -> String {
    for (i, (e, f)) in expected.lines().zip(found.lines()).enumerate() {
        if e != f {
            return format!(
                "line {}: schema.rs has {e:?}, the migrations give {f:?}",
                i + 1
            );
        }
    }
    format!(
        "schema.rs has {} lines, the migrations give {}",
        expected.lines().count(),
        found.lines().count()
    )
}

fn schema_file() -> PathBuf {
    root().join("src/db/schema.rs")
}

fn check(backend: &str, printed: &str) -> Result<(), Error> {
    let committed = std::fs::read_to_string(schema_file())?;
    if committed != printed {
        return Err(format!(
            "src/db/schema.rs does not match what diesel prints from migrations/{backend} ({}); \
             write it with `HOLDFAST_WRITE_SCHEMA=1 scripts/test --test schema`",
            first_difference(&committed, printed)
        )
        .into());
    }
    Ok(())
}

#[test]
fn schema_rs_is_what_the_sqlite_migrations_make() -> Result<(), Error> {
    let dir = tempfile::tempdir()?;
    let url = dir.path().join("schema.db");
    let url = url.to_str().ok_or("temp path is not UTF-8")?;
    let printed = portable_sqlite(&printed_schema(
        "sqlite",
        url,
        &[
            "--sqlite-integer-primary-key-is-bigint",
            "--except-tables",
            "^search_fts",
        ],
    )?);
    if std::env::var("HOLDFAST_WRITE_SCHEMA").is_ok_and(|v| v == "1") {
        std::fs::write(schema_file(), &printed)?;
    }
    check("sqlite", &printed)
}

#[test]
fn schema_rs_is_what_the_postgres_migrations_make() -> Result<(), Error> {
    let Ok(base) = std::env::var("HOLDFAST_TEST_DATABASE_URL") else {
        // Without PostgreSQL (scripts/test on SQLite only) there is nothing to compare;
        // CI runs the suite with it.
        eprintln!("HOLDFAST_TEST_DATABASE_URL is not set: PostgreSQL's schema not compared");
        return Ok(());
    };
    // A database of its own next to the test database, dropped afterwards.
    let (server, _) = base
        .rsplit_once('/')
        .ok_or("HOLDFAST_TEST_DATABASE_URL has no database name")?;
    let url = format!(
        "{server}/holdfast_schema_{}_{:x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos()
    );
    let printed = printed_schema("postgres", &url, &[]);
    let dropped = run(&["database", "drop", "--database-url", &url]);
    let printed = portable_postgres(&printed?);
    dropped?;
    check("postgres", &printed)
}

#[test]
fn prints_are_reconciled_by_the_documented_rules_only() {
    let pg = "pub mod sql_types {\n    #[derive(diesel::sql_types::SqlType)]\n    pub struct Tsvector;\n}\n\n\
              diesel::table! {\n    use diesel::sql_types::*;\n    use super::sql_types::Tsvector;\n\n\
              \x20   docs (id) {\n        id -> Int8,\n        n -> Nullable<Int4>,\n        b -> Bytea,\n\
              \x20       Int8_note -> Text,\n        v -> Nullable<Tsvector>,\n    }\n}\n";
    assert_eq!(
        portable_postgres(pg),
        "diesel::table! {\n    docs (id) {\n        id -> BigInt,\n        n -> Nullable<Integer>,\n\
         \x20       b -> Binary,\n        Int8_note -> Text,\n    }\n}\n"
    );
    let sqlite = "diesel::table! {\n    pairs (a, b) {\n        a -> Nullable<BigInt>,\n\
                  \x20       b -> Nullable<Text>,\n        c -> Nullable<Text>,\n    }\n}\n";
    assert_eq!(
        portable_sqlite(sqlite),
        "diesel::table! {\n    pairs (a, b) {\n        a -> BigInt,\n        b -> Text,\n\
         \x20       c -> Nullable<Text>,\n    }\n}\n",
        "only the primary key loses Nullable"
    );
    assert!(schema_file().is_file());
}
