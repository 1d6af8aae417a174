//! Replica audits between two real holdfast processes, each with its own data folder and
//! database: the origin publishes, the replica pulls; the origin challenges the copy
//! (nonces, sha256 of the replica's stored bytes) and it passes; a file damaged at the
//! origin is found by the fixity audit and repaired from the replica, verified; then the
//! replica loses a file and alters another, its challenge fails, the dataset falls below
//! the replication policy, pages warn and an alert ticket opens. PREMIS events on both.
//! Every story runs on disk on each backend, and again with both archives on S3.

use crate::support::api::publish_on;
use crate::support::process::{Home, Process, Serve};
use crate::support::wait::{self, check};
use crate::support::*;
use reqwest::StatusCode;
use std::path::{Path, PathBuf};

/// Every file under `dir` whose path ends with `suffix`.
fn files_ending(dir: &Path, suffix: &str, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            files_ending(&path, suffix, out)?;
        } else if path.to_string_lossy().ends_with(suffix) {
            out.push(path);
        }
    }
    Ok(())
}

/// Where a node keeps bytes: a folder on disk, or a key prefix on S3.
enum Storage {
    Disk(PathBuf),
    S3(holdfast::storage::S3Store),
}

impl Storage {
    /// The one key ending with `suffix`.
    async fn find(&self, suffix: &str) -> Result<String, Error> {
        use holdfast::storage::BlobStore;
        let keys: Vec<String> = match self {
            Storage::Disk(root) => {
                let mut found = Vec::new();
                files_ending(root, suffix, &mut found)?;
                found
                    .iter()
                    .map(|p| Ok(p.strip_prefix(root)?.to_string_lossy().to_string()))
                    .collect::<Result<_, Error>>()?
            }
            Storage::S3(store) => store
                .list("")
                .await?
                .into_iter()
                .filter(|k| k.ends_with(suffix))
                .collect(),
        };
        match keys.as_slice() {
            [one] => Ok(one.clone()),
            other => Err(format!("expected one key ending {suffix}, found {other:?}").into()),
        }
    }

    async fn write(&self, key: &str, bytes: &[u8]) -> TestResult {
        use holdfast::storage::BlobStore;
        match self {
            Storage::Disk(root) => std::fs::write(root.join(key), bytes)?,
            Storage::S3(store) => {
                store
                    .put_bytes(key, bytes::Bytes::copy_from_slice(bytes))
                    .await?
            }
        }
        Ok(())
    }

    async fn read(&self, key: &str) -> Result<Vec<u8>, Error> {
        use holdfast::storage::BlobStore;
        Ok(match self {
            Storage::Disk(root) => std::fs::read(root.join(key))?,
            Storage::S3(store) => store.get_bytes(key).await?.ok_or("missing")?.to_vec(),
        })
    }

    async fn delete(&self, key: &str) -> TestResult {
        use holdfast::storage::BlobStore;
        match self {
            Storage::Disk(root) => std::fs::remove_file(root.join(key))?,
            Storage::S3(store) => store.delete(key).await?,
        }
        Ok(())
    }
}

/// An origin and its replica, both serving on ports chosen beforehand (each is told the
/// other's address before it starts), the origin with a depositor, a curator and the
/// replica registered as partner `replica-b`.
struct Pair {
    _dir: tempfile::TempDir,
    origin: Home,
    replica: Home,
    origin_base: String,
    replica_base: String,
    origin_store: Storage,
    replica_store: Storage,
    depositor: Api,
    curator: Api,
    partner_token: String,
    _servers: (Process, Process),
    on_s3: bool,
}

const FLUX: &[u8] = b"time,flux\n2019-01-01T00:00,1.5\n2019-01-01T00:30,1.7\n";

fn s3_settings(home: Home, weed: &crate::s3::Weed, prefix: &str) -> Home {
    home.with(
        "HOLDFAST_STORAGE_URL",
        format!("s3://{}/{prefix}", crate::s3::BUCKET),
    )
    .with("HOLDFAST_S3_ENDPOINT", weed.endpoint.clone())
    .with("HOLDFAST_S3_ACCESS_KEY", crate::s3::ACCESS_KEY)
    .with("HOLDFAST_S3_SECRET_KEY", crate::s3::SECRET_KEY)
}

fn s3_store(weed: &crate::s3::Weed, prefix: &str) -> Result<Storage, Error> {
    Ok(Storage::S3(holdfast::storage::S3Store::new(
        crate::s3::settings(&weed.endpoint, prefix)?,
    )?))
}

impl Pair {
    async fn start(backend: Backend, s3: Option<&crate::s3::Weed>) -> Result<Pair, Error> {
        let dir = tempfile::tempdir()?;
        let [origin_port, replica_port] = [free_port()?, free_port()?];
        let origin = Home::new(dir.path(), "origin", backend)?
            .with("HOLDFAST_REPLICATION_MIN_COPIES", "1")
            // Below the policy opens the alert at once.
            .with("HOLDFAST_REPLICATION_ALERT_HOURS", "0")
            // Every file of the copy is challenged, so a lost one is always in the sample.
            .with("HOLDFAST_CHALLENGE_SAMPLE", "64")
            .with("HOLDFAST_FIXITY_AUTO_REPAIR", "false")
            // The scheduled round runs every second too, beside the command line's.
            .with("HOLDFAST_CHALLENGE_INTERVAL_SECS", "1");
        // The replica's server only answers; pulls run from its command line here.
        let replica = Home::new(dir.path(), "replica", backend)?.with("HOLDFAST_WORKERS", "0");
        let (origin, replica, origin_store, replica_store) = match s3 {
            None => {
                let stores = (
                    Storage::Disk(origin.data_dir.join("ocfl")),
                    Storage::Disk(replica.data_dir.join("replicas")),
                );
                (origin, replica, stores.0, stores.1)
            }
            // Each pair takes prefixes of its own; a replica's root per source sits beside
            // its own root: PREFIX-replicas/ID.
            Some(weed) => (
                s3_settings(origin, weed, &format!("origin{origin_port}")),
                s3_settings(replica, weed, &format!("replica{origin_port}")),
                s3_store(weed, &format!("origin{origin_port}"))?,
                s3_store(weed, &format!("replica{origin_port}-replicas"))?,
            ),
        };
        origin.cli(&["migrate"])?;
        replica.cli(&["migrate"])?;
        origin.add_user("pi@example.org", "depositor")?;
        origin.add_user("cura@example.org", "curator")?;
        let depositor = origin.cli(&["token", "create", "--email", "pi@example.org"])?;
        let curator = origin.cli(&["token", "create", "--email", "cura@example.org"])?;
        let replica_base = format!("http://127.0.0.1:{replica_port}");
        let partner_token = origin.cli(&[
            "partner",
            "add",
            "--name",
            "replica-b",
            "--url",
            &replica_base,
        ])?;
        let serve = |port| Serve {
            port: Some(port),
            ..Serve::default()
        };
        let servers = (
            origin.start(serve(origin_port)).await?,
            replica.start(serve(replica_port)).await?,
        );
        let origin_base = servers.0.base();
        Ok(Pair {
            depositor: Api::new(&origin_base, Some(&depositor)),
            curator: Api::new(&origin_base, Some(&curator)),
            _dir: dir,
            origin,
            replica,
            origin_base,
            replica_base,
            origin_store,
            replica_store,
            partner_token,
            _servers: servers,
            on_s3: s3.is_some(),
        })
    }

    /// Publishes three files at the origin; the dataset id.
    async fn publish(&self) -> Result<i64, Error> {
        let id = self
            .depositor
            .create_draft("Fluxes kept in two places")
            .await?;
        let files: &[(&str, &[u8])] = &[
            ("data/flux.csv", FLUX),
            ("notes.txt", b"Sensor moved on 2019-01-01.\n"),
            ("data/site.csv", b"site,lat,lon\nUS-Ha1,42.5,-72.2\n"),
        ];
        publish_on(&self.depositor, &self.curator, id, files).await?;
        Ok(id)
    }

    /// The replica pulls from the origin with the partner's token.
    fn pull(&self) -> TestResult {
        self.replica.cli(&[
            "replicate",
            "add",
            "--source",
            &self.origin_base,
            "--token",
            &self.partner_token,
        ])?;
        self.replica.cli(&["replicate", "run"])?;
        Ok(())
    }

    /// Publishes, pulls, and challenges the copy, which passes; the dataset id.
    async fn replicated(&self) -> Result<i64, Error> {
        let id = self.publish().await?;
        self.pull()?;
        let out = self
            .origin
            .cli(&["replicate", "challenge", "--partner", "replica-b"])?;
        assert!(out.contains("passed"), "{out}");
        Ok(id)
    }

    async fn replicas(&self, id: i64) -> Result<serde_json::Value, Error> {
        self.curator
            .get_ok(&format!("/api/datasets/{id}/replicas"))
            .await
    }
}

/// (event type, outcome, detail, outcome detail, agent) of the PREMIS events in a
/// node's database, dataset or not.
async fn premis_events(
    node: &Home,
) -> Result<Vec<(String, String, String, String, String)>, Error> {
    let url = node.database_url.clone();
    let db = tokio::task::spawn_blocking(move || holdfast::db::Db::connect(&url, 2)).await??;
    Ok(db
        .run(|conn| {
            use diesel::prelude::*;
            use holdfast::db::schema::premis_events as e;
            Ok(e::table
                .order(e::id.asc())
                .select((
                    e::event_type,
                    e::outcome,
                    e::detail,
                    e::outcome_detail,
                    e::agent_name,
                ))
                .load::<(String, String, String, String, String)>(conn)?)
        })
        .await?)
}

/// A copy lifts the dataset above the policy, and its challenges pass, by command and
/// on schedule.
async fn a_copy_counts_once_its_challenges_pass(pair: &Pair) -> TestResult {
    let id = pair.publish().await?;
    // Without a copy the dataset is below the policy.
    pair.origin.cli(&["replicate", "challenge"])?;
    let r = pair.replicas(id).await?;
    assert_eq!(r["below_policy"], true, "{r}");
    assert_eq!(r["good_copies"], 0);
    pair.pull()?;
    let r = pair.replicas(id).await?;
    assert_eq!(r["copies"].as_array().map(Vec::len), Some(1), "{r}");
    assert_eq!(r["copies"][0]["partner"], "replica-b");
    // The receipt alone lifts the dataset above the policy (min 1) and closes the alert.
    assert_eq!(r["below_policy"], false, "{r}");
    assert_eq!(r["alerted_at"], serde_json::Value::Null);

    // A challenge of the pulled copy passes, and lifts the dataset above the policy.
    let out = pair
        .origin
        .cli(&["replicate", "challenge", "--partner", "replica-b"])?;
    assert!(out.contains("passed"), "{out}");
    let unknown = pair
        .origin
        .cli_failing(&["replicate", "challenge", "--partner", "nobody"])?;
    assert!(unknown.contains("no active partner"), "{unknown}");
    let r = pair.replicas(id).await?;
    assert_eq!(r["copies"][0]["last_outcome"], "passed", "{r}");
    assert!(r["copies"][0]["last_verified_at"].is_string());
    assert_eq!(r["below_policy"], false);
    assert_eq!(r["good_copies"], 1);
    let challenges = r["challenges"].as_array().ok_or("challenges")?;
    assert_eq!(challenges[0]["files"], 3, "every content file sampled");
    assert_eq!(challenges[0]["outcome"], "passed");
    // The scheduled round (the origin's worker) challenges the copy by itself as well.
    let latest = challenges[0]["challenged_at"].clone();
    let r = wait::eventually("a scheduled challenge", || async {
        let r = pair.replicas(id).await?;
        Ok(check(r["challenges"][0]["challenged_at"] != latest, r))
    })
    .await?;
    assert_eq!(r["challenges"][0]["outcome"], "passed", "{r}");
    Ok(())
}

/// A challenge must be signed, and each signed request is answered once; an unsigned,
/// wrongly signed or replayed one changes nothing.
async fn challenges_must_be_signed(pair: &Pair) -> TestResult {
    // The replica knows the origin's key once it replicates it.
    pair.replicated().await?;
    let body = serde_json::json!({
        "object_id": "doi:10.5072/none", "version": 1,
        "issued_at": chrono::Utc::now().to_rfc3339(),
        "files": [{"content_path": "v1/content/data/flux.csv", "nonce": "ab".repeat(32)}]
    });
    let client = fresh_client();
    let url = format!("{}/api/federation/challenges", pair.replica_base);
    let r = client.post(&url).json(&body).send().await?;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let wrong = format!("hmac-sha256={}", "00".repeat(32));
    let r = client
        .post(&url)
        .header("x-holdfast-signature", wrong)
        .json(&body)
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Signed, but not a challenge of the right shape: a clear 4xx.
    let key = holdfast::federation::signing::key_of_token(&pair.partner_token);
    let bad = br#"{"object_id":"doi:10.5072/none","version":1,"files":[]}"#;
    let signature = holdfast::federation::signing::sign(&key, bad);
    let send = || {
        client
            .post(&url)
            .header("x-holdfast-signature", signature.clone())
            .body(bad.to_vec())
            .send()
    };
    let r = send().await?;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{}", r.text().await?);
    // The same signed request again, as an eavesdropper would replay it: refused.
    let r = send().await?;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await?.contains("already received"));
    Ok(())
}

/// The origin's copy of flux.csv is damaged: the audit finds it, the repair restores it
/// from the replica (the only other copy of these bytes), verified.
async fn the_origin_repairs_from_its_replica(pair: &Pair) -> TestResult {
    let id = pair.replicated().await?;
    let (origin, store) = (&pair.origin, &pair.origin_store);
    let origin_flux = store.find("v1/content/data/flux.csv").await?;
    store
        .write(&origin_flux, b"time,flux\n2019-01-01T00:00,9.9\n")
        .await?;
    let audit = origin.run(&["fixity", "run", "--all"])?;
    assert!(!audit.status.success(), "the audit reports the damage");
    assert!(String::from_utf8_lossy(&audit.stdout).contains("data/flux.csv"));
    let repaired = origin.cli(&["fixity", "repair"])?;
    assert!(
        repaired.contains("repaired") && repaired.contains("replica held by partner replica-b"),
        "{repaired}"
    );
    assert_eq!(
        store.read(&origin_flux).await?,
        FLUX,
        "the origin's bytes are back"
    );
    assert_eq!(
        Api::new(&pair.origin_base, None)
            .download(id, "data/flux.csv")
            .await?,
        FLUX
    );
    origin.cli(&["fixity", "run", "--all"])?;
    let events = premis_events(origin).await?;
    assert!(
        events.iter().any(|(t, o, _, d, _)| t == "recovery"
            && o == "success"
            && d.contains("replica held by partner replica-b")),
        "a recovery event names the replica: {events:?}"
    );
    assert!(
        events.iter().any(|(t, o, d, _, a)| t == "fixity check"
            && o == "success"
            && d.contains("held by partner replica-b")
            && a == "replica-b"),
        "the passed challenge is an event with the partner as agent: {events:?}"
    );
    if !pair.on_s3 {
        validate_ocfl_root(&origin.data_dir.join("ocfl"))?;
    }
    Ok(())
}

/// The replica loses one file and another changes: the challenge fails, the dataset
/// falls below the policy, an alert ticket opens, pages warn curators, and a failed
/// copy is no source for repairs.
async fn a_damaged_replica_fails_its_challenge(pair: &Pair) -> TestResult {
    let id = pair.replicated().await?;
    let store = &pair.replica_store;
    store
        .delete(&store.find("v1/content/notes.txt").await?)
        .await?;
    let altered = store.find("v1/content/data/site.csv").await?;
    store
        .write(&altered, b"site,lat,lon\nUS-Ha1,42.5,-72.3\n")
        .await?;
    let text = pair.origin.cli_failing(&["replicate", "challenge"])?;
    assert!(text.contains("failed"), "{text}");
    assert!(text.contains("notes.txt: missing"), "{text}");
    assert!(text.contains("data/site.csv: sha256(nonce"), "{text}");
    let r = pair.replicas(id).await?;
    assert_eq!(r["copies"][0]["last_outcome"], "failed", "{r}");
    assert_eq!(r["copies"][0]["counts"], false);
    assert_eq!(r["below_policy"], true);
    assert!(r["alerted_at"].is_string(), "the alert was raised: {r}");
    let tickets = pair
        .curator
        .get_ok(&format!("/api/datasets/{id}/tickets"))
        .await?
        .to_string();
    assert!(
        tickets.contains("replication-below-policy") || tickets.contains("Replication alert"),
        "an alert ticket is open: {tickets}"
    );
    // A copy that failed is no source for repairs.
    let origin_flux = pair.origin_store.find("v1/content/data/flux.csv").await?;
    pair.origin_store
        .write(&origin_flux, b"damaged again")
        .await?;
    pair.origin.run(&["fixity", "run", "--all"])?;
    pair.origin.cli_failing(&["fixity", "repair"])?;
    pair.origin_store.write(&origin_flux, FLUX).await?;
    pair.origin.cli(&["fixity", "run", "--all"])?;

    // The admin preservation page lists the dataset, its page warns; visitors see neither.
    let password = pair.origin.add_user("admin@example.org", "admin")?;
    let admin = Browser::new(&pair.origin_base);
    admin.sign_in("admin@example.org", &password).await?;
    let html = admin.page("/admin/preservation").await?;
    assert!(html.contains("1 dataset(s) below policy"), "{html}");
    assert!(html.contains(&format!("/datasets/{id}\"")), "{html}");
    let html = admin.page(&format!("/datasets/{id}")).await?;
    assert!(
        html.contains("id=\"replication-warning\"") && html.contains("replica-b"),
        "{html}"
    );
    let public = Api::new(&pair.origin_base, None)
        .get(&format!("/datasets/{id}"))
        .await?;
    assert!(!public.text.contains("replication-warning"));

    // The replica recorded every challenge it answered.
    let events = premis_events(&pair.replica).await?;
    let answered: Vec<_> = events
        .iter()
        .filter(|(t, _, d, _, _)| t == "fixity check" && d.starts_with("Challenge from"))
        .collect();
    assert!(
        answered.iter().any(|(_, o, _, _, _)| o == "success"),
        "{events:?}"
    );
    assert!(
        answered
            .iter()
            .any(|(_, o, _, d, _)| o == "failure" && d.contains("notes.txt missing")),
        "{events:?}"
    );
    Ok(())
}

async fn on_disk<F, Fut>(story: F) -> TestResult
where
    F: Fn(Pair) -> Fut,
    Fut: std::future::Future<Output = TestResult>,
{
    for backend in backends() {
        let pair = Pair::start(backend, None).await?;
        story(pair)
            .await
            .map_err(|e| format!("on {backend:?}: {e}"))?;
    }
    Ok(())
}

#[actix_web::test]
async fn a_replica_copy_counts_once_its_challenges_pass() -> TestResult {
    on_disk(|pair| async move { a_copy_counts_once_its_challenges_pass(&pair).await }).await
}

#[actix_web::test]
async fn a_replica_answers_only_signed_challenges() -> TestResult {
    on_disk(|pair| async move { challenges_must_be_signed(&pair).await }).await
}

#[actix_web::test]
async fn the_origin_repairs_damage_from_its_replica() -> TestResult {
    on_disk(|pair| async move { the_origin_repairs_from_its_replica(&pair).await }).await
}

#[actix_web::test]
async fn a_replica_that_loses_files_fails_its_challenge_and_raises_the_alert() -> TestResult {
    on_disk(|pair| async move { a_damaged_replica_fails_its_challenge(&pair).await }).await
}

/// The same stories with both archives on S3 (SeaweedFS): challenges and repairs
/// stream through the store.
#[actix_web::test]
async fn challenges_and_repairs_work_with_both_archives_on_s3() -> TestResult {
    let weed = crate::s3::Weed::start().await?;
    let on_s3 = || Pair::start(Backend::Sqlite, Some(&weed));
    a_copy_counts_once_its_challenges_pass(&on_s3().await?)
        .await
        .map_err(|e| format!("on S3: {e}"))?;
    challenges_must_be_signed(&on_s3().await?)
        .await
        .map_err(|e| format!("on S3: {e}"))?;
    the_origin_repairs_from_its_replica(&on_s3().await?)
        .await
        .map_err(|e| format!("on S3: {e}"))?;
    a_damaged_replica_fails_its_challenge(&on_s3().await?)
        .await
        .map_err(|e| format!("on S3: {e}"))?;
    Ok(())
}
