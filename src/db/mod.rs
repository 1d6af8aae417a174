//! The only module that knows which database backend is in use.
//!
//! `AnyConnection` covers SQLite and PostgreSQL with one portable `schema.rs`; the few
//! statements whose SQL differs (inserts that return the new id) go through
//! [`insert_returning_id!`]. Diesel is synchronous: request code reaches the pool
//! through [`Db::run`], which moves the work onto tokio's blocking threads.

/// The tables whose names do not say it all:
/// - `version_folders`: files and bytes directly in each folder of a version (kept with
///   `version_files`);
/// - `search_documents`, `search_facets`: what search shows and matches for each
///   published dataset, and its values under each facet (see `search`);
/// - `stored_files`, `fixity_checks`, `fixity_runs`: every byte in OCFL storage the
///   archive vouches for with its last check, the history of checks, and audit passes;
/// - `oai_records`, `oai_set_members`: one OAI-PMH record per dataset ever published,
///   and its sets;
/// - origin side of replication: `federation_partners` (archives that replicate this
///   one), `replica_copies` (receipts: the object versions each partner holds),
///   `replica_challenges`, `replication_shortfalls` (published datasets with fewer good
///   copies than the policy asks);
/// - replica side: `replication_sources` (archives this one replicates) and
///   `replica_objects` (object versions held, each in its source's own OCFL root).
///
/// Written by diesel from the migrations (`tests/schema.rs` checks it on both backends;
/// docs/testing.md says how to write it), never by hand.
pub mod schema;

// Joins diesel cannot infer from the migrations, where a table has two foreign keys to
// the same table (a dataset's owner and its assignee are both users).
diesel::joinable!(schema::datasets -> schema::users (owner_id));

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::time::Duration;

use crate::error::DomainError;

#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

pub type DbPool = Pool<ConnectionManager<AnyConnection>>;
pub type DbConn = PooledConnection<ConnectionManager<AnyConnection>>;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Which backend a database URL names. SQLite accepts any string as a path, so the
/// backend is chosen from the scheme rather than by trying each in turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// The URL diesel's SQLite driver expects: a path (or `file:` URI) without our `sqlite://` prefix.
fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://").unwrap_or(url)
}

#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<AnyConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut AnyConnection) -> Result<(), diesel::r2d2::Error> {
        if let AnyConnection::Sqlite(c) = conn {
            // WAL lets readers run beside the single writer; the busy timeout makes writers
            // queue instead of failing when another connection holds the write lock.
            // busy_timeout comes first: switching to WAL needs a moment of exclusive
            // access, and several pool connections open at once on a new database.
            c.batch_execute(
                "PRAGMA busy_timeout = 15000; PRAGMA journal_mode = WAL; \
                 PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
            )
            .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

#[derive(Clone)]
pub struct Db {
    pool: DbPool,
    backend: Backend,
}

/// No connection could be had: the reason goes to the log, the user reads that the
/// database is unavailable (pool and driver texts name hosts and settings).
fn unavailable(e: diesel::r2d2::PoolError) -> DomainError {
    tracing::warn!(error = %e, "no database connection");
    DomainError::Unavailable("the database is unavailable; try again in a moment".into())
}

impl Db {
    /// Connects, then applies any pending migrations of the URL's backend.
    pub fn connect(url: &str, pool_size: u32) -> anyhow::Result<Db> {
        let backend = Backend::of_url(url);
        let manager_url = match backend {
            Backend::Sqlite => sqlite_path(url).to_string(),
            Backend::Postgres => url.to_string(),
        };
        let manager = ConnectionManager::<AnyConnection>::new(manager_url);
        let pool = Pool::builder()
            .max_size(pool_size)
            .connection_timeout(Duration::from_secs(30))
            .connection_customizer(Box::new(SqlitePragmas))
            .build(manager)?;
        let db = Db { pool, backend };
        db.migrate()?;
        Ok(db)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Connections of the pool: (open, idle).
    pub fn pool_state(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections, state.idle_connections)
    }

    fn migrate(&self) -> anyhow::Result<()> {
        let mut conn = self.pool.get()?;
        let migrations = match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS,
            Backend::Postgres => POSTGRES_MIGRATIONS,
        };
        let applied = conn
            .run_pending_migrations(migrations)
            .map_err(|e| anyhow::anyhow!("database migration failed: {e}"))?;
        for version in applied {
            tracing::info!(%version, "applied migration");
        }
        Ok(())
    }

    pub fn get(&self) -> Result<DbConn, DomainError> {
        self.pool.get().map_err(unavailable)
    }

    /// Runs synchronous database work on a blocking thread.
    pub async fn run<T, F>(&self, work: F) -> Result<T, DomainError>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection) -> Result<T, DomainError> + Send + 'static,
    {
        let pool = self.pool.clone();
        // The work logs in the caller's span (a request's id, a job's kind).
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _in_caller_span = span.enter();
            let mut conn = pool.get().map_err(unavailable)?;
            work(&mut conn)
        })
        .await
        .map_err(|e| DomainError::internal(format!("database task failed: {e}")))?
    }

    /// Runs work inside one transaction on a blocking thread.
    pub async fn transaction<T, F>(&self, work: F) -> Result<T, DomainError>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection) -> Result<T, DomainError> + Send + 'static,
    {
        self.run(move |conn| transaction(conn, work)).await
    }
}

/// One transaction that may write. On SQLite it takes the write lock at its start
/// (`BEGIN IMMEDIATE`): a transaction that reads first and writes later cannot be
/// upgraded while another connection writes (SQLite answers "database is locked" at
/// once, whatever the busy timeout), whereas waiting for the lock up front queues
/// writers behind each other. Nested calls become savepoints, as with `transaction`.
pub fn transaction<T, F>(conn: &mut AnyConnection, work: F) -> Result<T, DomainError>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, DomainError>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    use diesel::Connection;
    let outermost_sqlite = match conn {
        AnyConnection::Sqlite(c) => {
            let depth = AnsiTransactionManager::transaction_manager_status_mut(c)
                .transaction_depth()
                .map_err(DomainError::from)?;
            if depth.is_none() {
                AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
                true
            } else {
                false
            }
        }
        AnyConnection::Postgresql(_) => false,
    };
    if !outermost_sqlite {
        return conn.transaction(work);
    }
    let outcome = work(conn);
    let AnyConnection::Sqlite(c) = conn else {
        return Err(DomainError::internal("connection changed backend"));
    };
    match outcome {
        Ok(value) => {
            if let Err(e) = AnsiTransactionManager::commit_transaction(c) {
                let _ = AnsiTransactionManager::rollback_transaction(c);
                return Err(e.into());
            }
            Ok(value)
        }
        Err(e) => {
            if let Err(rollback) = AnsiTransactionManager::rollback_transaction(c) {
                tracing::error!(error = %rollback, "rolling back a transaction failed");
            }
            Err(e)
        }
    }
}

/// Makes the caller's transaction the only one holding `key` until it ends, across
/// processes and nodes: a PostgreSQL advisory transaction lock. On SQLite a writing
/// transaction holds the database's write lock from its start (see [`transaction`]),
/// which serialises such transactions already. For "read, then write what is missing"
/// steps that two nodes must not run at once.
pub fn lock_for_transaction(conn: &mut AnyConnection, key: i64) -> Result<(), DomainError> {
    if let AnyConnection::Postgresql(pg) = conn {
        use diesel::RunQueryDsl;
        diesel::sql_query(format!("SELECT pg_advisory_xact_lock({key})")).execute(pg)?;
    }
    Ok(())
}

/// Inserts one row and returns its generated `id` on either backend (the RETURNING
/// clause does not compile through the MultiConnection enum, so match on the variant).
#[macro_export]
macro_rules! insert_returning_id {
    ($conn:expr, $table:path, $values:expr) => {{
        use diesel::prelude::*;
        use $table as insert_target;
        match $conn {
            $crate::db::AnyConnection::Sqlite(c) => diesel::insert_into(insert_target::table)
                .values($values)
                .returning(insert_target::id)
                .get_result::<i64>(c),
            $crate::db::AnyConnection::Postgresql(c) => diesel::insert_into(insert_target::table)
                .values($values)
                .returning(insert_target::id)
                .get_result::<i64>(c),
        }
    }};
}

/// Inserts many rows in one statement on either backend (multi-row VALUES does not
/// compile through the MultiConnection enum, so match on the variant). Returns the
/// number of rows inserted.
#[macro_export]
macro_rules! insert_batch {
    ($conn:expr, $table:path, $rows:expr) => {{
        use diesel::prelude::*;
        use $table as insert_target;
        match $conn {
            $crate::db::AnyConnection::Sqlite(c) => diesel::insert_into(insert_target::table)
                .values($rows)
                .execute(c),
            $crate::db::AnyConnection::Postgresql(c) => diesel::insert_into(insert_target::table)
                .values($rows)
                .execute(c),
        }
    }};
}
