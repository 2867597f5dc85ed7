//! Single-image jobs: a request row of kind `job` with one product and one image. Written,
//! found and listed here; shown as [`JobView`] from here too, so that `GET` and the webhook say
//! the same.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use super::{
    entities::{image, product, request},
    ingest::{NewProduct, NewRequest, image_row, insert_row, product_row},
    requests::{accepted, newest_first},
    scope::Scope,
};
use crate::{
    domain::{
        ids::{ImageId, ProductId, RequestId, TenantId},
        job::{JobOptions, JobResult, JobView},
        status::{ImageStatus, JobStatus, RequestKind},
    },
    urls::Urls,
};

/// Where a new job's image comes from.
#[derive(Debug, Clone, Copy)]
pub enum JobInput<'a> {
    /// Fetched from this URL.
    Url(&'a str),
    /// Uploaded and kept in the store under this key.
    Stored(&'a str),
}

/// A job's rows.
#[derive(Debug, Clone)]
pub struct Job {
    /// Its request row.
    pub request: request::Model,
    /// Its one image.
    pub image: image::Model,
}

impl Job {
    /// The job as the API (and its webhook) shows it.
    pub fn view(&self, urls: &Urls) -> JobView {
        let (r, img) = (&self.request, &self.image);
        let transform = r.transform();
        let result = match (img.status, &img.output_key) {
            (ImageStatus::Succeeded, Some(key)) => Some(JobResult {
                url: urls.file(key),
                format: transform.format,
                width: img.width.unwrap_or_default() as u32,
                height: img.height.unwrap_or_default() as u32,
                bytes: img.output_bytes.unwrap_or_default() as u64,
                input_bytes: img.input_bytes.unwrap_or_default() as u64,
            }),
            _ => None,
        };
        JobView {
            job_id: r.id,
            status: JobStatus::of(r.status),
            created_at: r.created_at,
            completed_at: r.completed_at,
            options: JobOptions {
                width: transform.width,
                height: transform.height,
                fit: transform.fit,
                format: transform.format,
                quality: r.quality,
                webhook_url: r.webhook_url.clone(),
                source_url: img.input_key.is_none().then(|| img.input_url.clone()),
            },
            result,
            error: img.error.clone(),
            status_url: urls.job(r.id),
            result_url: urls.job_result(r.id),
        }
    }
}

/// Writes a job (not accepted yet) and its image; returns when it was made.
pub async fn insert(
    txn: &impl ConnectionTrait,
    new: NewRequest<'_>,
    input: JobInput<'_>,
) -> Result<chrono::DateTime<chrono::Utc>, DbErr> {
    let now = super::now();
    insert_row(txn, &new, RequestKind::Job, 1, 1, now).await?;
    let product_id = ProductId::new();
    let product = NewProduct { position: 0, line: 0, serial_number: 1, name: "" };
    product::Entity::insert(product_row(new.tenant, new.id, product_id, &product)).exec_without_returning(txn).await?;
    let id = ImageId::new();
    let (url, key) = match input {
        JobInput::Url(url) => (url, None),
        JobInput::Stored(key) => ("", Some(key)),
    };
    image::Entity::insert(image_row(new.tenant, (new.id, product_id, id), 0, url, key, now))
        .exec_without_returning(txn)
        .await?;
    Ok(now)
}

/// One accepted job of `tenant`.
pub async fn find(db: &impl ConnectionTrait, tenant: &TenantId, id: RequestId) -> Result<Option<Job>, DbErr> {
    let Some(request) = accepted(tenant, RequestKind::Job).filter(request::Column::Id.eq(id)).one(db).await? else {
        return Ok(None);
    };
    let image = Scope(tenant).find::<image::Entity>().filter(image::Column::RequestId.eq(id)).one(db).await?;
    let image = image.ok_or_else(|| DbErr::RecordNotFound(format!("image of job {id}")))?;
    Ok(Some(Job { request, image }))
}

/// A page of `tenant`'s jobs (with `status` only, if given), newest first, and their total.
pub async fn list(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    status: Option<JobStatus>,
    offset: u64,
    limit: u64,
) -> Result<(Vec<Job>, u64), DbErr> {
    let mut query = accepted(tenant, RequestKind::Job);
    if let Some(status) = status {
        query = query.filter(request::Column::Status.is_in(status.request_statuses().iter().copied()));
    }
    let (requests, total) = newest_first(db, query, offset, limit).await?;
    if requests.is_empty() {
        return Ok((Vec::new(), total));
    }
    let ids = requests.iter().map(|r| r.id);
    let images = Scope(tenant).find::<image::Entity>().filter(image::Column::RequestId.is_in(ids)).all(db).await?;
    let mut by_request: HashMap<RequestId, image::Model> = images.into_iter().map(|i| (i.request_id, i)).collect();
    let jobs = requests
        .into_iter()
        .filter_map(|request| Some(Job { image: by_request.remove(&request.id)?, request }))
        .collect();
    Ok((jobs, total))
}
