//! The archive's state as gauges, read from the database at each scrape: the same on
//! every node. A few grouped counts over indexed columns, so a scrape stays cheap on a
//! large archive.

use chrono::{NaiveDateTime, Utc};
use diesel::dsl::{count_star, min};
use diesel::prelude::*;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

use crate::db::schema::{datasets, jobs, outbox, replication_shortfalls, tickets};
use crate::db::AnyConnection;
use crate::error::DomainError;

/// Job kind that registers DOIs with DataCite (kept in step with `doi::registration`).
const REGISTER_DOI: &str = "register-doi";

/// Ages of open tickets, in days: `[0, 1)`, `[1, 7)`, `[7, 30)`, 30 and more.
const TICKET_AGE_BUCKETS: [(&str, i64); 4] = [("0-1d", 0), ("1-7d", 1), ("7-30d", 7), ("30d+", 30)];

// The stored text of `DatasetState` and `TicketState` values: this module stays a leaf
// (every domain reports to it), so it names them rather than importing them.
/// Dataset states of the review queue.
const IN_REVIEW: [&str; 3] = ["submitted", "in_review", "approved"];
const TICKET_OPEN: &str = "open";

#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobKindState {
    pub kind: String,
    pub state: String,
    pub count: i64,
    /// Age of the oldest job of that kind and state.
    pub oldest_age_seconds: f64,
}

/// What one scrape read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ArchiveState {
    /// Jobs not done, by kind and state (queued, running, failed).
    pub jobs: Vec<JobKindState>,
    /// Open tickets per age bucket.
    pub tickets_open: Vec<(&'static str, i64)>,
    pub review_queue: i64,
    pub review_oldest_age_seconds: f64,
    pub doi_registrations_pending: i64,
    /// Outbox messages by state (pending, sent, failed).
    pub outbox: Vec<(String, i64)>,
    /// Published datasets with fewer verified copies than the policy asks.
    pub replication_shortfalls: i64,
    /// Database pool: (open, idle) connections of this node.
    pub pool: (u32, u32),
}

fn age_seconds(since: Option<NaiveDateTime>, now: NaiveDateTime) -> f64 {
    since.map_or(0.0, |t| {
        ((now - t).num_milliseconds() as f64 / 1000.0).max(0.0)
    })
}

/// Reads the state (the pool figures are the caller's: they are not in the database).
pub fn read(conn: &mut AnyConnection) -> Result<ArchiveState, DomainError> {
    let now = Utc::now().naive_utc();
    let grouped: Vec<(String, String, i64, Option<NaiveDateTime>)> = jobs::table
        .filter(jobs::state.ne("done"))
        .group_by((jobs::kind, jobs::state))
        .select((jobs::kind, jobs::state, count_star(), min(jobs::created_at)))
        .order((jobs::kind.asc(), jobs::state.asc()))
        .load(conn)?;
    let doi_registrations_pending = grouped
        .iter()
        .filter(|(kind, state, _, _)| kind == REGISTER_DOI && state != "failed")
        .map(|(_, _, n, _)| n)
        .sum();
    let jobs = grouped
        .into_iter()
        .map(|(kind, state, count, oldest)| JobKindState {
            kind,
            state,
            count,
            oldest_age_seconds: age_seconds(oldest, now),
        })
        .collect();

    let mut tickets_open = Vec::new();
    for (i, (label, from_days)) in TICKET_AGE_BUCKETS.iter().enumerate() {
        let newest = now - chrono::Duration::days(*from_days);
        let mut query = tickets::table
            .filter(tickets::state.eq(TICKET_OPEN))
            .filter(tickets::created_at.le(newest))
            .into_boxed();
        if let Some((_, to_days)) = TICKET_AGE_BUCKETS.get(i + 1) {
            query = query.filter(tickets::created_at.gt(now - chrono::Duration::days(*to_days)));
        }
        let n: i64 = query.select(count_star()).first(conn)?;
        tickets_open.push((*label, n));
    }

    let (review_queue, oldest): (i64, Option<NaiveDateTime>) = datasets::table
        .filter(datasets::state.eq_any(IN_REVIEW))
        .select((count_star(), min(datasets::updated_at)))
        .first(conn)?;
    let outbox = outbox::table
        .group_by(outbox::state)
        .select((outbox::state, count_star()))
        .order(outbox::state.asc())
        .load(conn)?;
    let replication_shortfalls = replication_shortfalls::table
        .select(count_star())
        .first(conn)?;
    Ok(ArchiveState {
        jobs,
        tickets_open,
        review_queue,
        review_oldest_age_seconds: age_seconds(oldest, now),
        doi_registrations_pending,
        outbox,
        replication_shortfalls,
        pool: (0, 0),
    })
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AgeLabels {
    age: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

impl ArchiveState {
    /// The gauges of this reading, in a registry of their own.
    pub fn registry(&self) -> Registry {
        let mut registry = Registry::with_prefix("holdfast");
        let per_kind = |state: &str| {
            let counts = Family::<KindLabels, Gauge>::default();
            let ages = Family::<KindLabels, FloatGauge>::default();
            for j in self.jobs.iter().filter(|j| j.state == state) {
                let labels = KindLabels {
                    kind: j.kind.clone(),
                };
                counts.get_or_create(&labels).set(j.count);
                ages.get_or_create(&labels).set(j.oldest_age_seconds);
            }
            (counts, ages)
        };
        let (queued, queued_age) = per_kind("queued");
        let (running, _) = per_kind("running");
        let (failed, _) = per_kind("failed");
        registry.register(
            "jobs_queued",
            "Jobs waiting to run (due or retrying later), by kind",
            queued,
        );
        registry.register(
            "jobs_oldest_queued_age_seconds",
            "Age of the oldest waiting job, by kind",
            queued_age,
        );
        registry.register("jobs_running", "Jobs running now, by kind", running);
        registry.register(
            "jobs_failed",
            "Jobs that failed for good (out of attempts), by kind",
            failed,
        );

        let tickets = Family::<AgeLabels, Gauge>::default();
        for (age, n) in &self.tickets_open {
            tickets
                .get_or_create(&AgeLabels {
                    age: age.to_string(),
                })
                .set(*n);
        }
        registry.register("tickets_open", "Open tickets by age", tickets);

        let gauge = |v: i64| {
            let g = Gauge::<i64>::default();
            g.set(v);
            g
        };
        registry.register(
            "review_queue",
            "Datasets submitted, in review or approved and not yet published",
            gauge(self.review_queue),
        );
        let oldest = FloatGauge::default();
        oldest.set(self.review_oldest_age_seconds);
        registry.register(
            "review_queue_oldest_age_seconds",
            "Time since the least recently moved dataset of the review queue last changed state",
            oldest,
        );
        registry.register(
            "doi_registrations_pending",
            "DOI registrations with DataCite waiting or running",
            gauge(self.doi_registrations_pending),
        );
        let outbox = Family::<StateLabels, Gauge>::default();
        for (state, n) in &self.outbox {
            outbox
                .get_or_create(&StateLabels {
                    state: state.clone(),
                })
                .set(*n);
        }
        registry.register("mail_outbox", "Mail messages by state", outbox);
        registry.register(
            "replication_shortfalls",
            "Published datasets with fewer verified copies than the replication policy asks",
            gauge(self.replication_shortfalls),
        );
        let pool = Family::<StateLabels, Gauge>::default();
        let (open, idle) = self.pool;
        pool.get_or_create(&StateLabels {
            state: "in_use".into(),
        })
        .set(i64::from(open.saturating_sub(idle)));
        pool.get_or_create(&StateLabels {
            state: "idle".into(),
        })
        .set(i64::from(idle));
        registry.register(
            "db_pool_connections",
            "Database connections of this node's pool",
            pool,
        );
        registry
    }
}
