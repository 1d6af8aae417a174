use super::Pull;
use crate::db::schema::replica_objects;
use crate::error::DomainError;
use crate::federation::receipts::{self, RECEIPTS_PATH};
use crate::preservation::events::{self, Agent, EventType, Outcome, Subject};
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

impl Pull<'_> {
    pub(super) async fn record_version(
        &self,
        dataset: i64,
        object_id: &str,
        n: u32,
        digest: &str,
        files: u64,
        bytes: u64,
    ) -> Result<(), String> {
        let source = self.source.clone();
        let (object_id, digest) = (object_id.to_string(), digest.to_string());
        self.fed
            .db
            .transaction(move |conn| {
                let version = i32::try_from(n).map_err(DomainError::internal)?;
                let known: i64 = replica_objects::table
                    .filter(replica_objects::source_id.eq(source.id))
                    .filter(replica_objects::object_id.eq(&object_id))
                    .filter(replica_objects::version_number.eq(version))
                    .count()
                    .get_result(conn)?;
                if known > 0 {
                    return Ok(());
                }
                // Another process pulling the same source at the same moment (the CLI
                // beside the worker) may insert first: the unique key refuses this row,
                // the failure is reported, and the next pull finds the row in place.
                diesel::insert_into(replica_objects::table)
                    .values((
                        replica_objects::source_id.eq(source.id),
                        replica_objects::object_id.eq(&object_id),
                        replica_objects::version_number.eq(version),
                        replica_objects::inventory_digest.eq(&digest),
                        replica_objects::pulled_at.eq(Utc::now().naive_utc()),
                        replica_objects::source_dataset_id.eq(Some(dataset)),
                    ))
                    .execute(conn)?;
                events::record(
                    conn,
                    EventType::Replication,
                    &Subject::default(),
                    &format!(
                        "replica of {object_id} v{n} pulled from {} (dataset {dataset} there)",
                        source.base_url
                    ),
                    Outcome::Success,
                    &format!(
                        "inventory sha256={digest}; {files} file(s), {bytes} bytes fetched now, every one checked for length and sha-256 before it was stored"
                    ),
                    Agent::Holdfast,
                )
            })
            .await
            .map_err(|e| e.to_string())
    }

    pub(super) async fn record_failure(&self, message: &str) {
        let message = message.to_string();
        let result = self
            .fed
            .db
            .transaction(move |conn| {
                events::record(
                    conn,
                    EventType::Replication,
                    &Subject::default(),
                    "replica pull",
                    Outcome::Failure,
                    &message,
                    Agent::Holdfast,
                )
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "could not record a failed replication");
        }
    }

    /// The source deaccessioned a dataset: its versions here are marked deleted (the
    /// bytes stay, dark). Returns how many versions were marked.
    pub(super) async fn withdraw(&self, dataset: i64) -> Result<usize, String> {
        let source = self.source.clone();
        self.fed
            .db
            .transaction(move |conn| {
                let now = Utc::now().naive_utc();
                let objects: Vec<String> = replica_objects::table
                    .filter(replica_objects::source_id.eq(source.id))
                    .filter(replica_objects::source_dataset_id.eq(dataset))
                    .filter(replica_objects::deleted_at.is_null())
                    .select(replica_objects::object_id)
                    .distinct()
                    .load(conn)?;
                let marked = diesel::update(
                    replica_objects::table
                        .filter(replica_objects::source_id.eq(source.id))
                        .filter(replica_objects::source_dataset_id.eq(dataset))
                        .filter(replica_objects::deleted_at.is_null()),
                )
                .set(replica_objects::deleted_at.eq(Some(now)))
                .execute(conn)?;
                for object_id in objects {
                    events::record(
                        conn,
                        EventType::Deaccession,
                        &Subject::default(),
                        &format!(
                            "{object_id} was deaccessioned at {} (dataset {dataset} there): the replica no longer serves or reports it",
                            source.base_url
                        ),
                        Outcome::Success,
                        "bytes kept, dark",
                        Agent::Holdfast,
                    )?;
                }
                Ok(marked)
            })
            .await
            .map_err(|e| e.to_string())
    }

    /// Sends a receipt for every version held and not yet reported (needs a token).
    pub(super) async fn send_receipts(&self) -> (usize, Vec<String>) {
        let Some(token) = self.source.token.clone() else {
            return (0, Vec::new());
        };
        let id = self.source.id;
        let pending = self
            .fed
            .db
            .run(move |conn| {
                Ok(replica_objects::table
                    .filter(replica_objects::source_id.eq(id))
                    .filter(replica_objects::receipt_sent_at.is_null())
                    .filter(replica_objects::deleted_at.is_null())
                    .order(replica_objects::id)
                    .select((
                        replica_objects::id,
                        replica_objects::object_id,
                        replica_objects::version_number,
                        replica_objects::inventory_digest,
                        replica_objects::pulled_at,
                    ))
                    .load::<(i64, String, i32, String, NaiveDateTime)>(conn)?)
            })
            .await;
        let pending = match pending {
            Ok(p) => p,
            Err(e) => return (0, vec![format!("receipts: {e}")]),
        };
        let url = format!("{}{RECEIPTS_PATH}", self.remote.base);
        let (mut sent, mut failures) = (0, Vec::new());
        for (row, object_id, version, digest, pulled_at) in pending {
            let receipt = receipts::sign(
                &token,
                &object_id,
                u32::try_from(version).unwrap_or(0),
                &digest,
                pulled_at.and_utc(),
            );
            let answer = self
                .remote
                .client
                .post(&url)
                .bearer_auth(&token)
                .json(&receipt)
                .send()
                .await;
            match answer {
                Ok(r) if r.status().is_success() => {
                    let done = self
                        .fed
                        .db
                        .run(move |conn| {
                            diesel::update(replica_objects::table.find(row))
                                .set(
                                    replica_objects::receipt_sent_at
                                        .eq(Some(Utc::now().naive_utc())),
                                )
                                .execute(conn)?;
                            Ok(())
                        })
                        .await;
                    match done {
                        Ok(()) => sent += 1,
                        Err(e) => failures.push(format!("receipt for {object_id} v{version}: {e}")),
                    }
                }
                Ok(r) => {
                    let status = r.status();
                    let body = r.text().await.unwrap_or_default();
                    failures.push(format!(
                        "the source refused the receipt for {object_id} v{version}: {status} {}",
                        body.chars().take(300).collect::<String>()
                    ));
                }
                Err(e) => failures.push(format!("receipt for {object_id} v{version}: {e}")),
            }
        }
        (sent, failures)
    }
}
