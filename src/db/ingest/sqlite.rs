//! SQLite's way of writing a batch: one INSERT … SELECT FROM json_each per table, the rows bound
//! as one JSON array of arrays, so that SQLite reads them in C instead of binding each value
//! through the driver.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};

use super::{Batch, NEW_IMAGE};

/// Writes the batch's products, then its images, in the caller's transaction.
pub(super) async fn json_each(txn: &impl ConnectionTrait, batch: &Batch<'_>) -> Result<(), DbErr> {
    let (tenant, request) = (Value::from(batch.new.tenant.clone()), Value::from(batch.new.id));
    let products: Vec<_> =
        batch.products.iter().map(|(id, p)| (id.to_string(), p.position, p.line, p.serial_number, p.name)).collect();
    let products = Statement::from_sql_and_values(
        DbBackend::Sqlite,
        "INSERT INTO products (tenant_id, request_id, id, position, line, serial_number, name) \
         SELECT ?, ?, r.value ->> 0, r.value ->> 1, r.value ->> 2, r.value ->> 3, r.value ->> 4 \
         FROM json_each(?) AS r",
        [tenant.clone(), request.clone(), json(&products)?],
    );
    txn.execute_raw(products).await?;
    let images: Vec<_> =
        batch.images.iter().map(|i| (i.id.to_string(), i.product.to_string(), i.position, i.url)).collect();
    let images = Statement::from_sql_and_values(
        DbBackend::Sqlite,
        "INSERT INTO images (tenant_id, request_id, status, attempts, updated_at, queued, \
         id, product_id, position, input_url) \
         SELECT ?, ?, ?, ?, ?, ?, r.value ->> 0, r.value ->> 1, r.value ->> 2, r.value ->> 3 \
         FROM json_each(?) AS r",
        [
            tenant,
            request,
            NEW_IMAGE.status.into(),
            NEW_IMAGE.attempts.into(),
            batch.now.into(),
            NEW_IMAGE.queued.into(),
            json(&images)?,
        ],
    );
    txn.execute_raw(images).await?;
    Ok(())
}

/// `rows` as one JSON text value.
fn json(rows: &impl serde::Serialize) -> Result<Value, DbErr> {
    serde_json::to_string(rows).map(Value::from).map_err(|e| DbErr::Custom(format!("encoding rows: {e}")))
}
