//! Writing a new request: its own row, then its products and images in batches, each batch one
//! transaction of multi-row INSERTs. The request stays hidden (not accepted) until the caller
//! marks it so, which is what makes the batches safe to commit one by one: a reader never sees a
//! half-written request, and one whose writer died is removed by the recovery pass.

use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, TransactionTrait};

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

/// Rows per multi-row INSERT: an image row binds 17 values, so 1,000 rows stay well under
/// SQLite's limit of 32,766 bound values (PostgreSQL's is 65,535).
const ROWS_PER_STATEMENT: usize = 1_000;

/// Images per transaction. On SQLite a transaction holds the database's one write lock, so this
/// bounds how long other writers (workers recording images, other uploads) wait for their turn;
/// it also bounds the rows held in memory at once.
const IMAGES_PER_TRANSACTION: usize = 25_000;

/// Writes a hidden request, its products and its images (none queued yet); returns how many
/// images it wrote. On an error some batches may have been written: the caller removes the
/// request (or the recovery pass does).
pub async fn insert_manifest(
    db: &DatabaseConnection,
    new: NewRequest<'_>,
    manifest: &Manifest,
) -> Result<usize, DbErr> {
    let now = super::now();
    insert_row(db, &new, RequestKind::Request, manifest.products.len(), manifest.image_count(), now).await?;
    let mut batch = Batch::default();
    for (position, p) in manifest.products.iter().enumerate() {
        let product_id = ProductId::new();
        let row =
            NewProduct { position, line: p.line as i64, serial_number: p.serial_number.get(), name: p.name.as_str() };
        batch.products.push(product_row(new.tenant, new.id, product_id, row));
        for (i, url) in p.image_urls.iter().enumerate() {
            batch.images.push(image_row(new.tenant, (new.id, product_id, ImageId::new()), i, url.as_str(), None, now));
        }
        if batch.images.len() >= IMAGES_PER_TRANSACTION {
            batch.write(db).await?;
        }
    }
    batch.write(db).await?;
    Ok(manifest.image_count())
}

/// Rows waiting to be written together.
#[derive(Default)]
struct Batch {
    products: Vec<product::ActiveModel>,
    images: Vec<image::ActiveModel>,
}

impl Batch {
    /// Writes and empties the batch in one transaction, products before the images naming them.
    async fn write(&mut self, db: &DatabaseConnection) -> Result<(), DbErr> {
        if self.products.is_empty() {
            return Ok(());
        }
        let txn = db.begin().await?;
        insert_all::<product::Entity>(&txn, &mut self.products).await?;
        insert_all::<image::Entity>(&txn, &mut self.images).await?;
        txn.commit().await
    }
}

/// Inserts and drains `rows`, [`ROWS_PER_STATEMENT`] to a statement.
async fn insert_all<E: EntityTrait>(db: &impl ConnectionTrait, rows: &mut Vec<E::ActiveModel>) -> Result<(), DbErr> {
    while !rows.is_empty() {
        let statement: Vec<_> = rows.drain(..rows.len().min(ROWS_PER_STATEMENT)).collect();
        E::insert_many(statement).exec_without_returning(db).await?;
    }
    Ok(())
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
    p: NewProduct<'_>,
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
