//! What the first start of a database makes, once however many processes start together: the
//! token signing key, the default (`admin`) account with its webhook secret and, with
//! authentication on, one API key for it, printed once.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use sea_orm::{DatabaseConnection, TransactionTrait};

use super::{Auth, accounts, settings::AuthMode, token};
use crate::{
    Config,
    config::Secret,
    db,
    domain::{ids::TenantId, status::TenantOrigin},
    webhook::sign::generate_secret,
};

const JWT_SECRET_SETTING: &str = "jwt_secret";
/// The default tenant's webhook secret as stored before accounts existed; still its seed.
const WEBHOOK_SECRET_SETTING: &str = "webhook_secret";
const ADMIN_KEY_SETTING: &str = "admin_key_issued";

/// Makes what is missing and returns the authentication the configuration asks for. Only a
/// process that serves the API (`serving`) issues the admin key, so that it is printed where the
/// operator runs the API.
pub async fn prepare(db: &DatabaseConnection, config: &Config, serving: bool) -> anyhow::Result<Auth> {
    let access = &config.access;
    let tokens = tokens(db, config).await?;
    let admin = TenantId::default_tenant();
    db::tenants::insert(db, &admin, None, None, TenantOrigin::Local).await?;
    admin_webhook_secret(db, config.webhook_secret.as_ref()).await?;
    if access.auth == AuthMode::Off {
        tracing::warn!(
            "IMGBATCH_AUTH=off: no credentials are checked; anyone who reaches the API acts as the one tenant"
        );
        println!("imgbatch: WARNING: authentication is off (IMGBATCH_AUTH=off); anyone who reaches the API can use it");
    } else if serving {
        issue_admin_key(db, &admin).await?;
    }
    Ok(Auth { mode: access.auth, tokens, token_ttl: access.token_ttl })
}

/// Token signing and checking: `IMGBATCH_JWT_SECRET`, or the key stored on first start.
pub async fn tokens(db: &DatabaseConnection, config: &Config) -> anyhow::Result<token::Tokens> {
    let access = &config.access;
    let jwt_secret = match &access.jwt_secret {
        Some(secret) => secret.clone(),
        None => Secret::new(db::settings::get_or_insert(db, JWT_SECRET_SETTING, &random_key()).await?),
    };
    let outside = access.jwt_public_key.as_deref().map(|pem| token::Outside {
        pem,
        issuer: access.jwt_issuer.as_deref(),
        audience: access.jwt_audience.as_deref(),
    });
    token::Tokens::new(&jwt_secret, outside)
}

/// The default tenant signs with `IMGBATCH_WEBHOOK_SECRET` when it is set, else with the secret
/// stored on its first start (generated then and printed once).
async fn admin_webhook_secret(db: &DatabaseConnection, configured: Option<&Secret>) -> anyhow::Result<()> {
    let admin = TenantId::default_tenant();
    let now = db::now();
    let current = db::webhook_secrets::current(db, &admin, now).await?.map(|(row, _)| row.secret);
    let wanted = match configured {
        Some(secret) => secret.clone(),
        None if current.is_some() => return Ok(()),
        None => {
            let fresh = generate_secret();
            let stored = db::settings::get_or_insert(db, WEBHOOK_SECRET_SETTING, fresh.expose()).await?;
            if stored == fresh.expose() {
                // Shown on the terminal once, never through the log subscriber.
                println!(
                    "imgbatch: generated the admin account's webhook signing secret (shown once; \
                     GET /api/v1/webhook-secret shows it again):\n  {stored}"
                );
            }
            Secret::new(stored)
        }
    };
    if current.as_deref() != Some(wanted.expose()) {
        let txn = db.begin().await?;
        db::webhook_secrets::replace(&txn, &admin, &wanted, now).await?;
        txn.commit().await?;
    }
    Ok(())
}

/// Issues the admin's first API key, once per database: the process whose marker is stored
/// issues and prints it.
async fn issue_admin_key(db: &DatabaseConnection, admin: &TenantId) -> anyhow::Result<()> {
    let marker = random_key();
    if db::settings::get_or_insert(db, ADMIN_KEY_SETTING, &marker).await? != marker {
        return Ok(());
    }
    let (_, key) = accounts::create_key(db, admin, "admin").await.map_err(|e| anyhow::anyhow!("{e}"))?;
    // Shown on the terminal once, never through the log subscriber.
    println!(
        "imgbatch: created the admin account and its API key (shown once; keep it, or make more with \
         POST /api/v1/api-keys):\n  {}",
        key.expose()
    );
    Ok(())
}

fn random_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}
