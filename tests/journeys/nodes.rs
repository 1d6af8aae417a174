//! Several holdfast processes on one database behave as one archive: two web-only nodes
//! (`serve --no-worker`) and one `holdfast worker` take a dataset from deposit to
//! publication, the requests alternating between the nodes. First on one data folder
//! and local disk; then as separate machines would run: each process with a data folder
//! of its own, one S3 store (SeaweedFS), one database and one shared folder
//! (HOLDFAST_SHARED_DIR) for staged uploads, with a browser session and a resumable
//! upload that move from one node to the other.

use crate::support::process::{Home, Process, Serve, Tokens};
use crate::support::wait::{self, check};
use crate::support::*;
use reqwest::StatusCode;

/// A web-only node of the cluster; every node names the same public URL, as behind a
/// load balancer.
async fn web_node(home: &Home) -> Result<Process, Error> {
    let mut how = Serve::args(&["serve", "--no-worker"]);
    how.base_url = Some("http://archive.test".into());
    home.start(how).await
}

/// Waits until the worker process checked the draft, asking the nodes in turn; the
/// report.
async fn checked(nodes: [&Api; 2], id: i64) -> Result<serde_json::Value, Error> {
    let mut round = 0;
    wait::eventually("the worker to check the draft", || {
        round += 1;
        let node = nodes[round % 2];
        async move {
            let report = node.validation(id).await?;
            Ok(check(report["state"] == "done", report))
        }
    })
    .await
}

/// Waits for the worker's check (asking both nodes), submits on the first node,
/// accepts on the second, and waits on the first for the worker to publish.
async fn publish_across(dep: [&Api; 2], cur: [&Api; 2], id: i64) -> TestResult {
    checked(dep, id).await?;
    dep[0].submit(id).await?;
    cur[1].accept(id).await?;
    cur[0].published(id).await?;
    Ok(())
}

#[actix_web::test]
async fn two_web_nodes_and_a_worker_process_publish_a_dataset_together() -> TestResult {
    for_each_backend(run).await
}

async fn run(backend: Backend) -> TestResult {
    let dir = tempfile::tempdir()?;
    let home = Home::new(dir.path(), "data", backend)?;
    let Tokens {
        depositor, curator, ..
    } = home.accounts()?;
    let (a, b) = (web_node(&home).await?, web_node(&home).await?);
    let _worker = home.spawn(&["worker"])?;
    let (dep_a, dep_b) = (
        Api::new(&a.base(), Some(&depositor)),
        Api::new(&b.base(), Some(&depositor)),
    );
    let (cur_a, cur_b) = (
        Api::new(&a.base(), Some(&curator)),
        Api::new(&b.base(), Some(&curator)),
    );

    let id = dep_a.create_draft("Made on two nodes").await?;
    let bytes = b"time,flux\n2019-01-01T00:00,1.5\n".to_vec();
    dep_b.put_file(id, "data/flux.csv", &bytes).await?;
    // The worker process runs the check and the publication; either node reports them.
    publish_across([&dep_a, &dep_b], [&cur_a, &cur_b], id).await?;
    for node in [&a, &b] {
        let got = Api::new(&node.base(), None)
            .download(id, "data/flux.csv")
            .await?;
        assert_eq!(got, bytes);
    }
    validate_ocfl_root(&home.data_dir.join("ocfl"))?;
    Ok(())
}

#[actix_web::test]
async fn nodes_with_their_own_folders_share_one_database_s3_store_and_staging() -> TestResult {
    let weed = crate::support::s3::Weed::start().await?;
    for backend in backends() {
        let prefix = format!("nodes-{backend:?}").to_ascii_lowercase();
        on_s3(&weed, backend, &prefix)
            .await
            .map_err(|e| format!("on {backend:?} and S3: {e}"))?;
    }
    Ok(())
}

/// A cluster as separate machines would run it: two web nodes and a worker, each with
/// a data folder of its own, on one database, one S3 store and one shared folder.
struct Cluster {
    dir: tempfile::TempDir,
    database_url: String,
    a: String,
    b: String,
    _processes: [Process; 3],
    password: String,
    depositor: String,
    curator: String,
}

async fn cluster(
    weed: &crate::support::s3::Weed,
    backend: Backend,
    prefix: &str,
) -> Result<Cluster, Error> {
    use crate::support::s3::{ACCESS_KEY, BUCKET, PART, SECRET_KEY};
    let dir = tempfile::tempdir()?;
    // Every process has a data folder of its own, as on separate machines; the SQLite
    // database lives in a folder of its own too.
    let folder = |name: &str| dir.path().join(name);
    std::fs::create_dir_all(folder("db"))?;
    let database_url = match backend {
        Backend::Sqlite => format!("sqlite://{}", folder("db").join("holdfast.db").display()),
        Backend::Postgres => fresh_postgres_schema()?,
    };
    let admin = Home::on(folder("admin"), &database_url)
        .with(
            "HOLDFAST_SHARED_DIR",
            folder("shared").display().to_string(),
        )
        .with("HOLDFAST_STORAGE_URL", format!("s3://{BUCKET}/{prefix}"))
        .with("HOLDFAST_S3_ENDPOINT", weed.endpoint.clone())
        .with("HOLDFAST_S3_ACCESS_KEY", ACCESS_KEY)
        .with("HOLDFAST_S3_SECRET_KEY", SECRET_KEY)
        .with("HOLDFAST_S3_PART_SIZE", PART.to_string());
    admin.cli(&["migrate"])?;
    let password = admin.add_user("pi@example.org", "depositor")?;
    admin.add_user("cura@example.org", "curator")?;
    let depositor = admin.cli(&["token", "create", "--email", "pi@example.org"])?;
    let curator = admin.cli(&["token", "create", "--email", "cura@example.org"])?;
    let a = web_node(&admin.with_data_dir(folder("node-a"))).await?;
    let b = web_node(&admin.with_data_dir(folder("node-b"))).await?;
    let _worker = admin.with_data_dir(folder("worker")).spawn(&["worker"])?;
    let (base_a, base_b) = (a.base(), b.base());
    Ok(Cluster {
        dir,
        database_url,
        a: base_a,
        b: base_b,
        _processes: [a, b, _worker],
        password,
        depositor,
        curator,
    })
}

async fn on_s3(weed: &crate::support::s3::Weed, backend: Backend, prefix: &str) -> TestResult {
    let c = cluster(weed, backend, prefix).await?;
    let id = a_session_moves_between_nodes(&c).await?;
    let bytes = a_resumable_upload_moves_between_nodes(&c, id).await?;
    let (dep_a, dep_b) = (
        Api::new(&c.a, Some(&c.depositor)),
        Api::new(&c.b, Some(&c.depositor)),
    );
    let client = fresh_client();
    let (a, b) = (&c.a, &c.b);
    // The worker process checks and publishes; the nodes alternate.
    let (cur_a, cur_b) = (Api::new(a, Some(&c.curator)), Api::new(b, Some(&c.curator)));
    publish_across([&dep_b, &dep_a], [&cur_b, &cur_a], id).await?;
    for node in [a, b] {
        let r = client
            .get(format!("{node}/datasets/{id}/files/data/big.bin"))
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            sha256_hex(&r.bytes().await?),
            sha256_hex(&bytes),
            "from {node}"
        );
        let r = client
            .get(format!("{node}/datasets/{id}/files/data/big.bin"))
            .header(reqwest::header::RANGE, "bytes=1000-1999")
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(r.bytes().await?.as_ref(), &bytes[1000..2000]);
    }

    // Scheduled work is queued once for the whole cluster, however many processes
    // started: one fixity sweep waits or runs.
    let db = holdfast::db::Db::connect(&c.database_url, 2)?;
    let sweeps = db
        .run(|conn| {
            use diesel::prelude::*;
            use holdfast::db::schema::jobs;
            Ok(jobs::table
                .filter(jobs::kind.eq("fixity-sweep"))
                .filter(jobs::state.eq_any(["queued", "running"]))
                .count()
                .get_result::<i64>(conn)?)
        })
        .await?;
    assert_eq!(sweeps, 1, "fixity sweeps queued or running");

    // Nothing went to the nodes' own folders; the root copied back is valid OCFL.
    for name in ["node-a", "node-b", "worker"] {
        assert!(
            !c.dir.path().join(name).join("ocfl").exists(),
            "{name} has an OCFL root"
        );
        assert!(
            !c.dir.path().join(name).join("staging").exists(),
            "{name} staged locally"
        );
    }
    let store =
        holdfast::storage::S3Store::new(crate::support::s3::settings(&weed.endpoint, prefix)?)?;
    let copy = tempfile::tempdir()?;
    crate::support::s3::copy_to_disk(&store, copy.path()).await?;
    validate_ocfl_root(copy.path())?;
    Ok(())
}

/// A browser signs in on node A; node B knows the session and takes a form with the
/// CSRF token node A's page gave. The new draft's id.
async fn a_session_moves_between_nodes(c: &Cluster) -> Result<i64, Error> {
    let (a, b) = (&c.a, &c.b);
    let cookies = http_client()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let on_a = Browser {
        client: cookies.clone(),
        base: a.clone(),
    };
    on_a.sign_in("pi@example.org", &c.password).await?;
    let on_b = on_a.on(b);
    let (status, mine) = on_b.get_text("/datasets/mine").await?;
    assert_eq!(status, StatusCode::OK, "{mine}");
    let csrf = on_a.csrf("/datasets/new").await?;
    let mut form = vec![("csrf_token", csrf.as_str())];
    form.extend(minimal_form("Made on two machines"));
    let r = cookies
        .post(format!("{b}/datasets"))
        .form(&form)
        .send()
        .await?;
    let id: i64 = expect_redirect_prefix(&r, "/datasets/")?
        .trim_start_matches("/datasets/")
        .parse()?;

    Ok(id)
}

/// A resumable upload starts on node A, the connection is cut, and it is finished on
/// node B from the offset node B reports. The uploaded bytes.
async fn a_resumable_upload_moves_between_nodes(c: &Cluster, id: i64) -> Result<Vec<u8>, Error> {
    let (a, b, depositor) = (&c.a, &c.b, &c.depositor);
    let bytes = crate::support::tus::content(4 * crate::support::tus::CHUNK + 12_345);
    let file = c.dir.path().join("big.bin");
    std::fs::write(&file, &bytes)?;
    let a_addr: std::net::SocketAddr = a.trim_start_matches("http://").parse()?;
    let proxy =
        crate::support::tus::cutting_proxy(a_addr, 2 * crate::support::tus::CHUNK + 100_000)?;
    let out = crate::support::tus::tuspy(serde_json::json!({
        "mode": "interrupt",
        "token": depositor,
        "file": file,
        "chunk": crate::support::tus::CHUNK,
        "proxy": format!("http://{proxy}"),
        "direct": b,
        "retries": 2,
        "metadata": {"dataset": id.to_string(), "path": "data/big.bin", "sha256": sha256_hex(&bytes)},
    }))
    .await?;
    assert_eq!(out["cut"], true, "{out}");
    let resumed_from = out["resumed_from"].as_u64().ok_or("resumed_from")?;
    assert!(
        resumed_from > 0 && resumed_from < bytes.len() as u64,
        "node B resumed from {resumed_from}: {out}"
    );
    assert_eq!(out["final"].as_u64(), Some(bytes.len() as u64), "{out}");
    let (dep_a, dep_b) = (Api::new(a, Some(depositor)), Api::new(b, Some(depositor)));
    dep_a
        .put_file(id, "data/flux.csv", b"time,flux\n2019-01-01T00:00,1.5\n")
        .await?;
    let files = dep_b.dataset(id).await?;
    let big = files["files"]
        .as_array()
        .and_then(|fs| fs.iter().find(|f| f["path"] == "data/big.bin"))
        .ok_or_else(|| format!("data/big.bin not in the draft: {files}"))?;
    assert_eq!(big["sha256"], sha256_hex(&bytes), "{big}");

    Ok(bytes)
}
