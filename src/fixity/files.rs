//! The `stored_files` register: every content file and inventory in OCFL storage that
//! the archive vouches for, with its digest, size and fixity state.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;

use super::audit::{Kind, Target};
use crate::db::schema::{datasets, stored_files};
use crate::db::AnyConnection;
use crate::error::{DomainError, ErrorContext};
use crate::storage::OcflRoot;

#[derive(Queryable, Selectable, Clone, Debug, Serialize)]
#[diesel(table_name = stored_files)]
pub struct StoredFileRow {
    pub id: i64,
    pub dataset_id: i64,
    pub object_id: String,
    pub kind: String,
    pub content_path: String,
    pub sha256: String,
    pub size: i64,
    pub state: String,
    pub last_outcome: String,
    pub last_checked_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

impl StoredFileRow {
    pub fn is_damaged(&self) -> bool {
        self.state == "damaged"
    }

    pub fn target(&self, ocfl: &OcflRoot) -> Target {
        Target {
            stored_file_id: self.id,
            dataset_id: self.dataset_id,
            object_root: ocfl.object_root(&self.object_id),
            object_id: self.object_id.clone(),
            kind: Kind::parse(&self.kind),
            content_path: self.content_path.clone(),
            sha256: self.sha256.clone(),
            size: u64::try_from(self.size).unwrap_or(0),
        }
    }
}

/// One file or inventory to put in the register.
pub struct NewStoredFile<'a> {
    pub kind: Kind,
    pub content_path: &'a str,
    pub sha256: &'a str,
    pub size: i64,
}

/// Registers what a publication (or a backfill) stored, inside the caller's transaction.
/// Content already registered is left as it is (a later version reuses its bytes); the
/// root inventory's row follows the new head (its digest changes with every version).
/// The bytes were hashed on the way in, so they count as verified now.
pub fn register(
    conn: &mut AnyConnection,
    dataset_id: i64,
    object_id: &str,
    files: &[NewStoredFile],
) -> Result<usize, DomainError> {
    let now = Utc::now().naive_utc();
    // Only the rows of these paths: a publication registers a large version in
    // chunks, and each chunk must not read what the others registered.
    let paths: Vec<&str> = files.iter().map(|f| f.content_path).collect();
    let mut known: BTreeMap<String, (i64, String)> = BTreeMap::new();
    for chunk in paths.chunks(500) {
        known.extend(
            stored_files::table
                .filter(stored_files::object_id.eq(object_id))
                .filter(stored_files::content_path.eq_any(chunk))
                .select((
                    stored_files::content_path,
                    stored_files::id,
                    stored_files::sha256,
                ))
                .load::<(String, i64, String)>(conn)?
                .into_iter()
                .map(|(p, id, sha)| (p, (id, sha))),
        );
    }
    let mut added = 0;
    let mut fresh = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for f in files {
        if !seen.insert(f.content_path) {
            continue; // identical bytes under several logical paths are stored once
        }
        match known.get(f.content_path) {
            Some((id, sha)) if f.kind == Kind::Inventory && sha != f.sha256 => {
                diesel::update(stored_files::table.find(*id))
                    .set((
                        stored_files::sha256.eq(f.sha256),
                        stored_files::size.eq(f.size),
                        stored_files::state.eq("ok"),
                        stored_files::last_outcome.eq("ok"),
                        stored_files::last_checked_at.eq(now),
                    ))
                    .execute(conn)?;
            }
            Some(_) => {}
            None => fresh.push((
                stored_files::dataset_id.eq(dataset_id),
                stored_files::object_id.eq(object_id),
                stored_files::kind.eq(f.kind.as_str()),
                stored_files::content_path.eq(f.content_path),
                stored_files::sha256.eq(f.sha256),
                stored_files::size.eq(f.size),
                stored_files::state.eq("ok"),
                stored_files::last_outcome.eq("ok"),
                stored_files::last_checked_at.eq(now),
                stored_files::created_at.eq(now),
            )),
        }
    }
    for chunk in fresh.chunks(500) {
        added += crate::insert_batch!(conn, crate::db::schema::stored_files, chunk)?;
    }
    Ok(added)
}

/// The register rows of a dataset, by content path.
pub fn of_dataset(
    conn: &mut AnyConnection,
    dataset_id: i64,
) -> Result<Vec<StoredFileRow>, DomainError> {
    Ok(stored_files::table
        .filter(stored_files::dataset_id.eq(dataset_id))
        .order(stored_files::content_path.asc())
        .select(StoredFileRow::as_select())
        .load(conn)?)
}

/// Damaged register rows of a dataset (or of every dataset), oldest damage first.
pub fn damaged(
    conn: &mut AnyConnection,
    dataset_id: Option<i64>,
) -> Result<Vec<StoredFileRow>, DomainError> {
    let mut q = stored_files::table
        .filter(stored_files::state.eq("damaged"))
        .into_boxed();
    if let Some(id) = dataset_id {
        q = q.filter(stored_files::dataset_id.eq(id));
    }
    Ok(
        q.order((stored_files::last_checked_at.asc(), stored_files::id.asc()))
            .select(StoredFileRow::as_select())
            .load(conn)?,
    )
}

/// Which of these content paths of an object are damaged (for downloads: 503 rather
/// than bad bytes), with their row.
pub fn damaged_among(
    conn: &mut AnyConnection,
    object_id: &str,
    content_paths: &[&str],
) -> Result<Vec<StoredFileRow>, DomainError> {
    let mut out = Vec::new();
    for chunk in content_paths.chunks(500) {
        out.extend(
            stored_files::table
                .filter(stored_files::object_id.eq(object_id))
                .filter(stored_files::state.eq("damaged"))
                .filter(stored_files::content_path.eq_any(chunk))
                .select(StoredFileRow::as_select())
                .load(conn)?,
        );
    }
    Ok(out)
}

/// Which targets to audit.
#[derive(Clone, Debug)]
pub enum Selection {
    /// Every registered file.
    All,
    /// Every file of one dataset.
    Dataset(i64),
    /// Files not verified since this moment (due in the current cycle).
    CheckedBefore(NaiveDateTime),
}

/// The register joined with its datasets, as a boxed query.
type SelectedRows<'a> = diesel::dsl::IntoBoxed<
    'a,
    diesel::dsl::Filter<
        diesel::dsl::InnerJoin<stored_files::table, datasets::table>,
        diesel::dsl::NotEq<datasets::state, &'static str>,
    >,
    crate::db::MultiBackend,
>;

/// The register rows of a selection, leaving out objects whose publication is in flight
/// (their newest version is not in the register yet).
fn selected<'a>(selection: &Selection) -> SelectedRows<'a> {
    let q = stored_files::table
        .inner_join(datasets::table)
        .filter(datasets::state.ne("approved"))
        .into_boxed();
    match selection {
        Selection::All => q,
        Selection::Dataset(id) => q.filter(stored_files::dataset_id.eq(*id)),
        Selection::CheckedBefore(t) => q.filter(stored_files::last_checked_at.lt(*t)),
    }
}

/// One page of the rows of a selection, by id after `after_id`.
pub fn page(
    conn: &mut AnyConnection,
    selection: &Selection,
    after_id: i64,
    limit: i64,
) -> Result<Vec<StoredFileRow>, DomainError> {
    Ok(selected(selection)
        .filter(stored_files::id.gt(after_id))
        .order(stored_files::id.asc())
        .limit(limit)
        .select(StoredFileRow::as_select())
        .load(conn)?)
}

/// Files count and bytes of a selection (for a progress bar).
pub fn totals(conn: &mut AnyConnection, selection: &Selection) -> Result<(i64, i64), DomainError> {
    let (count, bytes): (i64, Option<i64>) = selected(selection)
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::BigInt>>(
                "CAST(SUM(stored_files.size) AS BIGINT)",
            ),
        ))
        .first(conn)?;
    Ok((count, bytes.unwrap_or(0)))
}

/// The least recently verified files, oldest check first: what the scheduled sweep
/// reads next.
pub fn least_recently_checked(
    conn: &mut AnyConnection,
    limit: i64,
) -> Result<Vec<StoredFileRow>, DomainError> {
    Ok(selected(&Selection::All)
        .order((stored_files::last_checked_at.asc(), stored_files::id.asc()))
        .limit(limit)
        .select(StoredFileRow::as_select())
        .load(conn)?)
}

/// Registers the stored files of published datasets the register lacks (archives from
/// before fixity audits): content paths from the database, inventories from storage.
pub async fn backfill(db: &crate::db::Db, ocfl: &OcflRoot) -> Result<usize, DomainError> {
    use crate::db::schema::{dataset_versions, version_files};
    let missing: Vec<(i64, String)> = db
        .run(|conn| {
            let registered = stored_files::table
                .select(stored_files::dataset_id)
                .distinct();
            Ok(datasets::table
                .filter(datasets::ocfl_object_id.is_not_null())
                .filter(datasets::id.ne_all(registered))
                .filter(diesel::dsl::exists(
                    dataset_versions::table
                        .filter(dataset_versions::dataset_id.eq(datasets::id))
                        .filter(dataset_versions::published_at.is_not_null()),
                ))
                .select((datasets::id, datasets::ocfl_object_id.assume_not_null()))
                .load::<(i64, String)>(conn)?)
        })
        .await?;
    let mut added = 0;
    for (dataset_id, object_id) in missing {
        let inventory = ocfl
            .inventory(&object_id)
            .await
            .with_context(|| format!("reading the inventory of {object_id}"))?;
        let Some(inventory) = inventory else {
            tracing::warn!(dataset = dataset_id, object = %object_id, "published dataset has no OCFL object; not registered for fixity audits");
            continue;
        };
        let Some((digest, size)) = ocfl
            .inventory_digest(&object_id)
            .await
            .with_context(|| format!("reading the inventory digest of {object_id}"))?
        else {
            continue;
        };
        let head_inventory = format!("{}/inventory.json", inventory.head);
        let object = object_id.clone();
        added += db
            .transaction(move |conn| {
                let content: Vec<(String, String, i64)> = version_files::table
                    .inner_join(dataset_versions::table)
                    .filter(dataset_versions::dataset_id.eq(dataset_id))
                    .filter(dataset_versions::published_at.is_not_null())
                    .filter(version_files::content_path.is_not_null())
                    .select((
                        version_files::content_path.assume_not_null(),
                        version_files::sha256,
                        version_files::size,
                    ))
                    .distinct()
                    .load(conn)?;
                let mut rows: Vec<NewStoredFile> = content
                    .iter()
                    .map(|(path, sha, size)| NewStoredFile {
                        kind: Kind::Content,
                        content_path: path,
                        sha256: sha,
                        size: *size,
                    })
                    .collect();
                // Only the head's version inventory is known to equal the root's bytes;
                // older version inventories are registered by later publications.
                let size = i64::try_from(size).map_err(DomainError::internal)?;
                rows.push(NewStoredFile {
                    kind: Kind::Inventory,
                    content_path: "inventory.json",
                    sha256: &digest,
                    size,
                });
                rows.push(NewStoredFile {
                    kind: Kind::Inventory,
                    content_path: &head_inventory,
                    sha256: &digest,
                    size,
                });
                register(conn, dataset_id, &object, &rows)
            })
            .await?;
    }
    Ok(added)
}
