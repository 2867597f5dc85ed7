//! Which servers a test app runs against, from `IMGBATCH_TEST_BACKEND`:
//! - `embedded` (the default): SQLite, the embedded queue and local files, in the test's temp dir;
//! - `servers`: PostgreSQL (`IMGBATCH_TEST_POSTGRES_URL`, a new database per test), Redis
//!   (`IMGBATCH_TEST_REDIS_URL`, a queue namespace per test) and an S3-compatible store
//!   (`IMGBATCH_TEST_S3_ENDPOINT`, a new bucket per test; credentials from the AWS_* variables).
//!
//! When a server is absent the test runs embedded instead and says so loudly, unless
//! `IMGBATCH_REQUIRE_SERVICES=1`, which makes it fail.

use std::{net::SocketAddr, path::Path};

use imgbatch::{Config, storage::StorageLocation};
use sea_orm::{ConnectionTrait, Database};

/// Whether servers that are absent fail the test (`IMGBATCH_REQUIRE_SERVICES=1`, as in CI).
pub fn services_required() -> bool {
    std::env::var("IMGBATCH_REQUIRE_SERVICES").as_deref() == Ok("1")
}

/// Whether this run uses the servers backend (`IMGBATCH_TEST_BACKEND=servers`).
pub fn servers_backend() -> bool {
    std::env::var("IMGBATCH_TEST_BACKEND").as_deref() == Ok("servers")
}

/// Says loudly that a test did not run because `why`, or fails it when services are required.
pub fn skip_unless_required(test: &str, why: &str) {
    if services_required() {
        panic!("IMGBATCH_REQUIRE_SERVICES=1 but {why}");
    }
    eprintln!("\n*** SKIPPED {test}: {why} ***\n");
}

/// Points `config` at this test's own database, queue and store.
pub async fn configure(config: &mut Config, dir: &Path) {
    config.database_url = format!("sqlite://{}/imgbatch.db?mode=rwc", dir.display());
    config.storage = StorageLocation::Local(dir.join("files"));
    if !servers_backend() {
        return;
    }
    match servers(config, dir).await {
        Ok(()) => {}
        Err(why) if services_required() => panic!("IMGBATCH_REQUIRE_SERVICES=1 but {why}"),
        Err(why) => eprintln!("\n*** SKIPPED the servers backend for this test ({why}); ran it embedded ***\n"),
    }
}

async fn servers(config: &mut Config, dir: &Path) -> Result<(), String> {
    let name = format!("imgbatch_{}", uuid::Uuid::new_v4().simple());
    let admin_url = postgres_admin_url();
    let admin = Database::connect(admin_url.as_str())
        .await
        .map_err(|e| format!("PostgreSQL is not reachable at {admin_url}: {e}"))?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .map_err(|e| format!("cannot create a test database: {e}"))?;
    let mut url = url::Url::parse(&admin_url).map_err(|e| e.to_string())?;
    url.set_path(&name);

    let endpoint = env_or("IMGBATCH_TEST_S3_ENDPOINT", "http://127.0.0.1:9000");
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() || std::env::var_os("AWS_ENDPOINT_URL").is_none() {
        return Err("AWS_ACCESS_KEY_ID and AWS_ENDPOINT_URL must be set for the S3 store".into());
    }
    let bucket = name.replace('_', "-");
    create_bucket(&endpoint, &bucket).await?;
    let redis_url = env_or("IMGBATCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/");
    apalis_redis::connect(redis_url.as_str())
        .await
        .map_err(|e| format!("Redis is not reachable at {redis_url}: {e}"))?;

    config.database_url = url.to_string();
    config.storage = StorageLocation::S3 { bucket, prefix: "outputs".into() };
    config.redis_url = Some(redis_url);
    config.queue_namespace = name;
    config.queue_file = Some(dir.join("unused-queue.db"));
    Ok(())
}

/// The PostgreSQL database that tests connect to in order to create (or alter) their own.
pub fn postgres_admin_url() -> String {
    env_or("IMGBATCH_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// The S3-compatible test server (`IMGBATCH_TEST_S3_ENDPOINT`).
pub struct S3Server {
    /// Its URL, for creating buckets.
    pub endpoint: String,
    /// Its address, for a proxy to forward to.
    pub addr: SocketAddr,
}

impl S3Server {
    /// The server `IMGBATCH_TEST_S3_ENDPOINT` names, if it answers and AWS credentials are set;
    /// otherwise `None` after a loud skip line (or a failure when services are required).
    pub async fn find_or_skip(test: &str) -> Option<Self> {
        match Self::find().await {
            Ok(server) => Some(server),
            Err(why) => {
                skip_unless_required(test, &why);
                None
            }
        }
    }

    async fn find() -> Result<Self, String> {
        let endpoint = std::env::var("IMGBATCH_TEST_S3_ENDPOINT")
            .map_err(|_| "no S3-compatible server is configured (IMGBATCH_TEST_S3_ENDPOINT)".to_owned())?;
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() || std::env::var_os("AWS_SECRET_ACCESS_KEY").is_none() {
            return Err("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set for the S3 store".into());
        }
        let url = url::Url::parse(&endpoint).map_err(|e| format!("IMGBATCH_TEST_S3_ENDPOINT={endpoint}: {e}"))?;
        let addrs = url.socket_addrs(|| None).map_err(|e| format!("cannot resolve {endpoint}: {e}"))?;
        let addr = *addrs.first().ok_or_else(|| format!("{endpoint} resolves to no address"))?;
        reqwest::get(&endpoint).await.map_err(|e| format!("no S3-compatible server at {endpoint}: {e}"))?;
        Ok(Self { endpoint, addr })
    }
}

/// Stores `config`'s outputs in S3 reached through `endpoint` (such as a proxy in front of the
/// test server): in the servers backend's bucket, or in a new one.
pub async fn store_in_s3_through(config: &mut Config, server: &S3Server, endpoint: String) {
    if !matches!(config.storage, StorageLocation::S3 { .. }) {
        let bucket = format!("imgbatch-{}", uuid::Uuid::new_v4().simple());
        create_bucket(&server.endpoint, &bucket).await.expect("a bucket for the test");
        config.storage = StorageLocation::S3 { bucket, prefix: "outputs".into() };
    }
    config.s3_endpoint = Some(endpoint);
}

async fn create_bucket(endpoint: &str, bucket: &str) -> Result<(), String> {
    match reqwest::Client::new().put(format!("{endpoint}/{bucket}")).send().await {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(format!("cannot create bucket {bucket} at {endpoint}: {}", r.status())),
        Err(e) => Err(format!("no S3-compatible server at {endpoint}: {e}")),
    }
}
