//! Which servers a test app runs against, from `IMGBATCH_TEST_BACKEND`:
//! - `embedded` (the default): SQLite, the embedded queue and local files, in the test's temp dir;
//! - `servers`: PostgreSQL (`IMGBATCH_TEST_POSTGRES_URL`, a new database per test), Redis
//!   (`IMGBATCH_TEST_REDIS_URL`, a queue namespace per test) and an S3-compatible store
//!   (`IMGBATCH_TEST_S3_ENDPOINT`, a new bucket per test; credentials from the AWS_* variables).
//!
//! When a server is absent the test runs embedded instead and says so loudly, unless
//! `IMGBATCH_REQUIRE_SERVICES=1`, which makes it fail.

use std::path::Path;

use imgbatch::{Config, storage::StorageLocation};
use sea_orm::{ConnectionTrait, Database};

/// Points `config` at this test's own database, queue and store.
pub async fn configure(config: &mut Config, dir: &Path) {
    config.database_url = format!("sqlite://{}/imgbatch.db?mode=rwc", dir.display());
    config.storage = StorageLocation::Local(dir.join("files"));
    if std::env::var("IMGBATCH_TEST_BACKEND").as_deref() != Ok("servers") {
        return;
    }
    match servers(config, dir).await {
        Ok(()) => {}
        Err(why) if std::env::var("IMGBATCH_REQUIRE_SERVICES").as_deref() == Ok("1") => {
            panic!("IMGBATCH_REQUIRE_SERVICES=1 but {why}")
        }
        Err(why) => eprintln!("\n*** SKIPPED the servers backend for this test ({why}); ran it embedded ***\n"),
    }
}

async fn servers(config: &mut Config, dir: &Path) -> Result<(), String> {
    let name = format!("imgbatch_{}", uuid::Uuid::new_v4().simple());
    let admin_url = env_or("IMGBATCH_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test");
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
    let created = reqwest::Client::new().put(format!("{endpoint}/{bucket}")).send().await;
    match created {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => return Err(format!("cannot create bucket {bucket} at {endpoint}: {}", r.status())),
        Err(e) => return Err(format!("no S3-compatible server at {endpoint}: {e}")),
    }
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

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}
