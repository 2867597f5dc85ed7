//! Making accounts and keys: each account is made with its own webhook signing secret.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, SqlErr, TransactionTrait};

use super::credentials;
use crate::{
    config::Secret,
    db::{self, entities::api_key},
    domain::{ids::TenantId, status::TenantOrigin},
    error::ApiError,
    webhook::sign::generate_secret,
};

/// The longest API key name accepted.
pub const MAX_KEY_NAME: usize = 100;

/// Makes an account that signs in with `email` (already normalised) and, if given, a password
/// hash; 409 when the email is taken.
pub async fn create_local(
    db: &DatabaseConnection,
    email: &str,
    password_hash: Option<&str>,
) -> Result<TenantId, ApiError> {
    let id = TenantId::new();
    // The insert comes first and the email's unique index decides: on SQLite a transaction that
    // reads before it writes can be refused at once when another writer commits in between.
    let txn = db.begin().await?;
    match db::tenants::insert(&txn, &id, Some(email), password_hash, TenantOrigin::Local).await {
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            return Err(ApiError::EmailTaken);
        }
        other => other?,
    };
    give_secret(&txn, &id).await?;
    txn.commit().await?;
    tracing::info!(tenant = %id, "account created");
    Ok(id)
}

/// Makes the account of an outside identity provider's subject, unless it exists.
pub async fn create_outside(db: &DatabaseConnection, id: &TenantId) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    if db::tenants::insert(&txn, id, None, None, TenantOrigin::External).await? {
        give_secret(&txn, id).await?;
        tracing::info!(tenant = %id, "account created for an outside identity");
    }
    txn.commit().await
}

/// A new webhook signing secret for a new account.
async fn give_secret(db: &impl ConnectionTrait, id: &TenantId) -> Result<(), DbErr> {
    db::webhook_secrets::replace(db, id, &generate_secret(), db::now()).await
}

/// Issues an API key for `tenant`: its row, and the key itself (shown once, never stored).
pub async fn create_key(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    name: &str,
) -> Result<(api_key::Model, Secret), ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_KEY_NAME || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!("name must be 1 to {MAX_KEY_NAME} printable characters")));
    }
    let (key, prefix, hash) = credentials::new_api_key();
    let row = db::tenants::insert_key(db, tenant, name, &prefix, &hash).await?;
    tracing::info!(tenant = %tenant, key = %row.id, prefix = %prefix, "API key issued");
    Ok((row, key))
}
