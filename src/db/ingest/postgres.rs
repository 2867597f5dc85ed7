//! PostgreSQL's way of writing a batch: one `COPY … FROM STDIN` per table, in text format. The
//! server reads the rows as they stream in, with no statement to plan and no arrays to unpack:
//! 500,000 image rows go in about a quarter faster than through `INSERT … SELECT FROM UNNEST`.

use std::fmt::Write as _;
use std::sync::Arc;

use chrono::SecondsFormat;
use sea_orm::{
    DbErr, RuntimeErr,
    sqlx::{self, PgConnection, PgPool},
};

use super::{Batch, NEW_IMAGE};

/// Writes the batch's products, then its images, in one transaction of its own.
pub(super) async fn copy(pool: &PgPool, batch: &Batch<'_>) -> Result<(), DbErr> {
    let (tenant, request) = (escaped(batch.new.tenant.as_str()), batch.new.id.to_string());
    let mut products = String::with_capacity(batch.products.len() * 160);
    for (id, p) in &batch.products {
        let name = escaped(p.name);
        let _ =
            writeln!(products, "{tenant}\t{request}\t{id}\t{}\t{}\t{}\t{name}", p.position, p.line, p.serial_number);
    }
    let (status, attempts, queued) =
        (NEW_IMAGE.status.as_str(), NEW_IMAGE.attempts, if NEW_IMAGE.queued { 't' } else { 'f' });
    let now = batch.now.to_rfc3339_opts(SecondsFormat::Micros, true);
    let mut images = String::with_capacity(batch.images.len() * 200);
    for i in &batch.images {
        let url = escaped(i.url);
        let _ = writeln!(
            images,
            "{tenant}\t{request}\t{status}\t{attempts}\t{now}\t{queued}\t{}\t{}\t{}\t{url}",
            i.id, i.product, i.position
        );
    }
    let mut txn = pool.begin().await.map_err(exec_err)?;
    send(
        &mut txn,
        "COPY products (tenant_id, request_id, id, position, line, serial_number, name) FROM STDIN",
        products,
    )
    .await?;
    send(
        &mut txn,
        "COPY images (tenant_id, request_id, status, attempts, updated_at, queued, id, product_id, position, input_url) \
         FROM STDIN",
        images,
    )
    .await?;
    txn.commit().await.map_err(exec_err)
}

/// Runs one COPY of `rows` (already in COPY's text format) on `conn`.
async fn send(conn: &mut PgConnection, statement: &str, rows: String) -> Result<(), DbErr> {
    let mut copy = conn.copy_in_raw(statement).await.map_err(exec_err)?;
    // Dropped unfinished (the send failed), the COPY is cancelled and the transaction rolled back.
    copy.send(rows.into_bytes()).await.map_err(exec_err)?;
    copy.finish().await.map_err(exec_err)?;
    Ok(())
}

/// `value` as a field of COPY's text format: the four characters that format gives a meaning to
/// (backslash, tab, newline, carriage return) escaped, so a name or URL holding one comes back as
/// it was written. (NUL cannot occur: names and URLs refuse it.)
fn escaped(value: &str) -> std::borrow::Cow<'_, str> {
    if !value.contains(['\\', '\t', '\n', '\r']) {
        return value.into();
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.into()
}

/// A driver error as sea-orm reports one, so that `db::is_unavailable` judges it as any other.
fn exec_err(e: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(Arc::new(e)))
}

#[cfg(test)]
mod tests {
    use super::escaped;

    #[test]
    fn fields_keep_the_characters_copy_gives_a_meaning_to() {
        assert_eq!(escaped("Plain name"), "Plain name");
        assert_eq!(escaped("a\\b\tc\nd\re \\N"), "a\\\\b\\tc\\nd\\re \\\\N");
    }
}
