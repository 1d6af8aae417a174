//! The version's files switched over to their stored bytes in the database, chunk by
//! chunk, each digest recorded and each stored file put in the fixity register.

use diesel::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::plan::PublishPlan;
use super::progress::{report_progress, PHASE_RECORDING};
use super::Publisher;
use crate::db::schema::version_files;
use crate::db::AnyConnection;
use crate::deposit::model::FileRow;
use crate::error::DomainError;
use crate::preservation::events::{self, Agent, EventType, Outcome};

/// Files recorded per database transaction when a publication is switched over: each
/// chunk commits on its own, so no transaction (nor SQLite's write lock) spans a whole
/// large dataset.
const RECORD_CHUNK: usize = 1000;

/// Switches the version's files over to their stored bytes, [`RECORD_CHUNK`] files per
/// transaction: content path set, staged blob released (deleted once its chunk has
/// committed), the digest recorded (PREMIS) and the stored file registered for fixity
/// audits. Idempotent, so a publication interrupted between chunks resumes: a file
/// whose staged blob is already released was done before.
pub(super) async fn record_files(
    publisher: &Publisher,
    plan: &Arc<PublishPlan>,
    content_paths: &Arc<BTreeMap<String, String>>,
) -> Result<(), DomainError> {
    let id = plan.dataset.id;
    let total = plan.files.len();
    let mut start = 0;
    while start < total {
        let end = (start + RECORD_CHUNK).min(total);
        report_progress(
            publisher,
            id,
            PHASE_RECORDING,
            Some(start as i64),
            Some(total as i64),
        )
        .await;
        let (plan_for_db, paths) = (plan.clone(), content_paths.clone());
        let released = publisher
            .db
            .transaction(move |conn| {
                record_chunk(conn, &plan_for_db, &plan_for_db.files[start..end], &paths)
            })
            .await?;
        crate::crashpoint::hit("publish.after-file-chunk");
        publisher.staging.remove_blobs(released).await;
        start = end;
    }
    Ok(())
}

/// One chunk of [`record_files`]; returns the staged blobs it released.
fn record_chunk(
    conn: &mut AnyConnection,
    plan: &PublishPlan,
    files: &[FileRow],
    content_paths: &BTreeMap<String, String>,
) -> Result<Vec<String>, DomainError> {
    let version_subject = events::Subject {
        dataset_id: Some(plan.dataset.id),
        version: Some(plan.version.number),
        ..Default::default()
    };
    let ids: Vec<i64> = files.iter().map(|f| f.id).collect();
    // What the database holds now: an earlier attempt may have done part of this chunk.
    let still_staged: std::collections::HashSet<i64> = version_files::table
        .filter(version_files::id.eq_any(&ids))
        .filter(version_files::staged_name.is_not_null())
        .select(version_files::id)
        .load::<i64>(conn)?
        .into_iter()
        .collect();
    let mut released = Vec::new();
    for f in files {
        // Identical bytes are stored once; files carried over point into earlier versions.
        let content_path = content_paths.get(&f.sha256).ok_or_else(|| {
            DomainError::internal(format!("'{}' is missing from the OCFL manifest", f.path))
        })?;
        if still_staged.contains(&f.id) {
            events::record(
                conn,
                EventType::MessageDigestCalculation,
                &events::Subject {
                    file_path: Some(&f.path),
                    file_sha256: Some(&f.sha256),
                    ..version_subject.clone()
                },
                "sha256 computed while the upload was received, verified again when copied into storage",
                Outcome::Success,
                &format!("sha256:{} ({} bytes)", f.sha256, f.size),
                Agent::Holdfast,
            )?;
            released.extend(f.staged_name.clone());
        }
        if still_staged.contains(&f.id) || f.content_path.as_deref() != Some(content_path) {
            diesel::update(version_files::table.find(f.id))
                .set((
                    version_files::staged_name.eq(None::<String>),
                    version_files::content_path.eq(content_path),
                ))
                .execute(conn)?;
        }
    }
    register_stored_content(conn, plan, files, content_paths)?;
    Ok(released)
}

/// Puts content files of the version in the fixity register (those carried over are
/// there already).
fn register_stored_content(
    conn: &mut AnyConnection,
    plan: &PublishPlan,
    files: &[FileRow],
    content_paths: &BTreeMap<String, String>,
) -> Result<(), DomainError> {
    use crate::fixity::{Kind, NewStoredFile};
    let rows: Vec<NewStoredFile> = files
        .iter()
        .filter_map(|f| {
            content_paths.get(&f.sha256).map(|path| NewStoredFile {
                kind: Kind::Content,
                content_path: path,
                sha256: &f.sha256,
                size: f.size,
            })
        })
        .collect();
    crate::fixity::files::register(conn, plan.dataset.id, &plan.object_id, &rows)?;
    Ok(())
}
