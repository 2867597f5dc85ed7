//! Writing a new request: its own row, then its products and images in batches, each batch one
//! transaction of one statement per table. The request stays hidden (not accepted) until the caller
//! marks it so, which is what makes the batches safe to commit one by one: a reader never sees a
//! half-written request, and one whose writer died is removed by the recovery pass.

use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, Statement, TransactionTrait,
    Value,
};

use super::entities::{image, product, request};
use crate::{
    domain::{
        ids::{ImageId, ProductId, RequestId, TenantId},
        quality::Quality,
        status::{ImageStatus, RequestKind, RequestStatus},
        transform::Transform,
    },
    manifest::Manifest,
};

/// What a new request is made of, besides its manifest.
pub struct NewRequest<'a> {
    /// Whose it is.
    pub tenant: &'a TenantId,
    /// The new request's id.
    pub id: RequestId,
    /// Where to send the completion webhook.
    pub webhook_url: Option<&'a str>,
    /// Encoder quality for its images.
    pub quality: Quality,
    /// What else is done to its images.
    pub transform: Transform,
}

/// Images per transaction. On SQLite a transaction holds the database's one write lock, so this
/// bounds how long other writers (workers recording images, other uploads) wait for their turn;
/// it also bounds the rows held in memory at once.
const IMAGES_PER_TRANSACTION: usize = 25_000;

/// Writes a hidden request, its products and its images (none queued yet): [`insert_request`]
/// then [`insert_rows`].
pub async fn insert_manifest(db: &DatabaseConnection, new: NewRequest<'_>, manifest: &Manifest) -> Result<(), DbErr> {
    let now = super::now();
    insert_request(db, &new, manifest, now).await?;
    insert_rows(db, &new, manifest, now).await
}

/// Writes a hidden request's own row, with its manifest's counts; on an error nothing is written.
pub async fn insert_request(
    db: &DatabaseConnection,
    new: &NewRequest<'_>,
    manifest: &Manifest,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    insert_row(db, new, RequestKind::Request, manifest.products.len(), manifest.image_count(), now).await
}

/// Writes the products and images (none queued yet) of a request written by [`insert_request`].
/// On an error some batches may have been written: the caller removes the request (or the
/// recovery pass does).
pub async fn insert_rows(
    db: &DatabaseConnection,
    new: &NewRequest<'_>,
    manifest: &Manifest,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    let mut batch = Batch { new, now, products: Vec::new(), images: Vec::new() };
    for (position, p) in manifest.products.iter().enumerate() {
        let id = ProductId::new();
        let row =
            NewProduct { position, line: p.line as i64, serial_number: p.serial_number.get(), name: p.name.as_str() };
        batch.products.push((id, row));
        for (i, url) in p.image_urls.iter().enumerate() {
            batch.images.push(NewImage { id: ImageId::new(), product: id, position: i, url: url.as_str() });
        }
        if batch.images.len() >= IMAGES_PER_TRANSACTION {
            batch.write(db).await?;
        }
    }
    batch.write(db).await
}

/// One image row of a manifest to write.
struct NewImage<'a> {
    id: ImageId,
    product: ProductId,
    position: usize,
    url: &'a str,
}

/// Rows of one request waiting to be written together.
struct Batch<'a> {
    new: &'a NewRequest<'a>,
    now: chrono::DateTime<chrono::Utc>,
    products: Vec<(ProductId, NewProduct<'a>)>,
    images: Vec<NewImage<'a>>,
}

impl Batch<'_> {
    /// Writes and empties the batch in one transaction, products before the images naming them.
    async fn write(&mut self, db: &DatabaseConnection) -> Result<(), DbErr> {
        if self.products.is_empty() {
            return Ok(());
        }
        let txn = db.begin().await?;
        match db.get_database_backend() {
            DbBackend::Postgres => self.unnest(&txn).await?,
            _ => self.json_each(&txn).await?,
        }
        self.products.clear();
        self.images.clear();
        txn.commit().await
    }

    /// One INSERT … SELECT FROM json_each per table, the rows bound as one JSON array of arrays:
    /// SQLite reads them in C instead of binding 17 values a row through the driver.
    async fn json_each(&self, txn: &impl ConnectionTrait) -> Result<(), DbErr> {
        let (tenant, request) = (Value::from(self.new.tenant.clone()), Value::from(self.new.id));
        let products: Vec<_> =
            self.products.iter().map(|(id, p)| (id.to_string(), p.position, p.line, p.serial_number, p.name)).collect();
        let products = Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "INSERT INTO products (tenant_id, request_id, id, position, line, serial_number, name) \
             SELECT ?, ?, r.value ->> 0, r.value ->> 1, r.value ->> 2, r.value ->> 3, r.value ->> 4 \
             FROM json_each(?) AS r",
            [tenant.clone(), request.clone(), json(&products)?],
        );
        txn.execute_raw(products).await?;
        let images: Vec<_> =
            self.images.iter().map(|i| (i.id.to_string(), i.product.to_string(), i.position, i.url)).collect();
        let images = Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "INSERT INTO images (tenant_id, request_id, status, attempts, updated_at, queued, \
             id, product_id, position, input_url) \
             SELECT ?, ?, ?, 0, ?, ?, r.value ->> 0, r.value ->> 1, r.value ->> 2, r.value ->> 3 \
             FROM json_each(?) AS r",
            [tenant, request, Value::from(ImageStatus::Pending), Value::from(self.now), false.into(), json(&images)?],
        );
        txn.execute_raw(images).await?;
        Ok(())
    }

    /// One INSERT … SELECT FROM UNNEST per table, each column bound once as an array: PostgreSQL
    /// plans one small statement instead of a thousand-row VALUES list per statement.
    async fn unnest(&self, txn: &impl ConnectionTrait) -> Result<(), DbErr> {
        let (tenant, request) = (Value::from(self.new.tenant.clone()), Value::from(self.new.id));
        let products = Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO products (tenant_id, request_id, id, position, line, serial_number, name) \
             SELECT $1, $2, * FROM UNNEST($3::text[], $4::int[], $5::bigint[], $6::bigint[], $7::text[])",
            [
                tenant.clone(),
                request.clone(),
                column(&self.products, |(id, _)| id.to_string()),
                column(&self.products, |(_, p)| p.position as i32),
                column(&self.products, |(_, p)| p.line),
                column(&self.products, |(_, p)| p.serial_number),
                column(&self.products, |(_, p)| p.name.to_owned()),
            ],
        );
        txn.execute_raw(products).await?;
        let images = Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO images (tenant_id, request_id, status, attempts, updated_at, queued, \
             id, product_id, position, input_url) \
             SELECT $1, $2, $3, 0, $4, false, * FROM UNNEST($5::text[], $6::text[], $7::int[], $8::text[])",
            [
                tenant,
                request,
                Value::from(ImageStatus::Pending),
                Value::from(self.now),
                column(&self.images, |i| i.id.to_string()),
                column(&self.images, |i| i.product.to_string()),
                column(&self.images, |i| i.position as i32),
                column(&self.images, |i| i.url.to_owned()),
            ],
        );
        txn.execute_raw(images).await?;
        Ok(())
    }
}

/// `rows` as one JSON text value.
fn json(rows: &impl serde::Serialize) -> Result<Value, DbErr> {
    serde_json::to_string(rows).map(Value::from).map_err(|e| DbErr::Custom(format!("encoding rows: {e}")))
}

/// One column of `rows`, as an array value.
fn column<R, T>(rows: &[R], field: impl Fn(&R) -> T) -> Value
where
    T: Into<Value> + sea_orm::sea_query::value::postgres_array::NotU8 + sea_orm::sea_query::ValueType,
{
    Value::from(rows.iter().map(field).collect::<Vec<T>>())
}

/// Writes a request's own row (not accepted yet, no image finished).
pub(super) async fn insert_row(
    db: &impl ConnectionTrait,
    new: &NewRequest<'_>,
    kind: RequestKind,
    products: usize,
    images: usize,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    request::Entity::insert(request::ActiveModel {
        id: Set(new.id),
        tenant_id: Set(new.tenant.clone()),
        status: Set(RequestStatus::Queued),
        accepted: Set(false),
        webhook_url: Set(new.webhook_url.map(str::to_owned)),
        quality: Set(new.quality),
        products: Set(products as i32),
        images: Set(images as i32),
        succeeded: Set(0),
        failed: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        completed_at: Set(None),
        box_width: Set(new.transform.width.map(|n| n as i32)),
        box_height: Set(new.transform.height.map(|n| n as i32)),
        fit: Set(new.transform.fit),
        format: Set(new.transform.format),
        kind: Set(kind),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// One product row to write.
pub(super) struct NewProduct<'a> {
    pub position: usize,
    pub line: i64,
    pub serial_number: i64,
    pub name: &'a str,
}

pub(super) fn product_row(
    tenant: &TenantId,
    request: RequestId,
    id: ProductId,
    p: &NewProduct<'_>,
) -> product::ActiveModel {
    product::ActiveModel {
        id: Set(id),
        tenant_id: Set(tenant.clone()),
        request_id: Set(request),
        position: Set(p.position as i32),
        line: Set(p.line),
        serial_number: Set(p.serial_number),
        name: Set(p.name.to_owned()),
    }
}

/// A pending image row: fetched from `url`, or read from the store under `input_key`.
pub(super) fn image_row(
    tenant: &TenantId,
    (request, product, id): (RequestId, ProductId, ImageId),
    position: usize,
    url: &str,
    input_key: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> image::ActiveModel {
    image::ActiveModel {
        id: Set(id),
        tenant_id: Set(tenant.clone()),
        request_id: Set(request),
        product_id: Set(product),
        position: Set(position as i32),
        input_url: Set(url.to_owned()),
        status: Set(ImageStatus::Pending),
        attempts: Set(0),
        error: Set(None),
        output_key: Set(None),
        input_bytes: Set(None),
        output_bytes: Set(None),
        width: Set(None),
        height: Set(None),
        updated_at: Set(now),
        queued: Set(false),
        input_key: Set(input_key.map(str::to_owned)),
    }
}
