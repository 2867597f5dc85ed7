//! The operator's commands: `imgbatch tenant create` and `imgbatch token`.

use std::{io::BufRead, time::Duration};

use super::{accounts, bootstrap, credentials};
use crate::{Config, db, domain::ids::TenantId};

/// Makes an account (with a password read from standard input when asked) and prints its tenant
/// id and a first API key.
pub async fn create_tenant(config: &Config, email: &str, password_stdin: bool) -> anyhow::Result<()> {
    let email = credentials::normalise_email(email).map_err(|e| anyhow::anyhow!("--email: {e}"))?;
    let hash = match password_stdin {
        true => {
            let mut password = String::new();
            std::io::stdin().lock().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            credentials::check_password(password).map_err(|e| anyhow::anyhow!("--password-stdin: {e}"))?;
            Some(credentials::hash_password(password)?)
        }
        false => None,
    };
    let db = open(config).await?;
    let tenant = accounts::create_local(&db, &email, hash.as_deref()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let (_, key) = accounts::create_key(&db, &tenant, "first key").await.map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("tenant_id: {tenant}\napi_key (shown once): {}", key.expose());
    Ok(())
}

/// Prints a token for an existing tenant.
pub async fn print_token(config: &Config, sub: &str, ttl: Duration) -> anyhow::Result<()> {
    let tenant: TenantId = sub.parse().map_err(|e| anyhow::anyhow!("--sub: {e}"))?;
    if ttl.is_zero() {
        anyhow::bail!("--ttl: must be above 0");
    }
    let db = open(config).await?;
    anyhow::ensure!(db::tenants::find(&db, &tenant).await?.is_some(), "--sub: no tenant {tenant}");
    let tokens = bootstrap::tokens(&db, config).await?;
    println!("{}", tokens.issue(&tenant, ttl)?);
    Ok(())
}

async fn open(config: &Config) -> anyhow::Result<sea_orm::DatabaseConnection> {
    config.validate().map_err(anyhow::Error::msg)?;
    let db = db::connect(&config.database_url).await?;
    db::migrate(&db).await?;
    Ok(db)
}
