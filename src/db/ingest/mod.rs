//! Writing a new request: its own row, then its products and images in batches, each batch one
//! transaction of one statement per table. The request stays hidden (not accepted) until the caller
//! marks it so, which is what makes the batches safe to commit one by one: a reader never sees a
//! half-written request, and one whose writer died is removed by the recovery pass.

use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, TransactionTrait};

mod postgres;
mod sqlite;

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
        match db.get_database_backend() {
            DbBackend::Postgres => postgres::copy(db.get_postgres_connection_pool(), self).await?,
            _ => {
                let txn = db.begin().await?;
                sqlite::json_each(&txn, self).await?;
                txn.commit().await?;
            }
        }
        self.products.clear();
        self.images.clear();
        Ok(())
    }
}

/// What every new image row starts as, whichever way it is written: waiting, never tried, not
/// handed to the queue yet (the dispatcher does that, in the tenant's window).
const NEW_IMAGE: NewImageState = NewImageState { status: ImageStatus::Pending, attempts: 0, queued: false };

struct NewImageState {
    status: ImageStatus,
    attempts: i32,
    queued: bool,
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
        status: Set(NEW_IMAGE.status),
        attempts: Set(NEW_IMAGE.attempts),
        error: Set(None),
        output_key: Set(None),
        input_bytes: Set(None),
        output_bytes: Set(None),
        width: Set(None),
        height: Set(None),
        updated_at: Set(now),
        queued: Set(NEW_IMAGE.queued),
        input_key: Set(input_key.map(str::to_owned)),
    }
}
