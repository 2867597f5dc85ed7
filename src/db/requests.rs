//! Requests and their products: insert a parsed manifest, read requests back.

use std::{collections::HashMap, sync::OnceLock};

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult, IdenStatic, JoinType,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, SelectA, SelectB, SelectTwo, Statement, Value,
    Values,
};

use super::{
    entities::{api_key, image, product, request, webhook_delivery},
    readers::Readers,
    scope::Scope,
};
use crate::domain::{
    ids::{ProductId, RequestId, TenantId},
    status::{RequestKind, RequestStatus},
};

/// Ids per `IN (…)` list; keeps each statement well under SQLite's bound-parameter limit.
const CHUNK: usize = 500;

/// One accepted CSV request of `tenant` by id.
pub async fn find(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    id: RequestId,
) -> Result<Option<request::Model>, DbErr> {
    accepted(tenant, RequestKind::Request).filter(request::Column::Id.eq(id)).one(db).await
}

/// A page of `tenant`'s CSV requests, newest first, and the total count.
pub async fn list(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    offset: u64,
    limit: u64,
) -> Result<(Vec<request::Model>, u64), DbErr> {
    newest_first(db, accepted(tenant, RequestKind::Request), offset, limit).await
}

/// Those of `ids` that are `tenant`'s accepted requests or jobs, as they are now.
pub async fn by_ids(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    ids: &[RequestId],
) -> Result<Vec<request::Model>, DbErr> {
    let mut rows = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let query = Scope(tenant).find::<request::Entity>().filter(request::Column::Accepted.eq(true));
        rows.extend(query.filter(request::Column::Id.is_in(chunk.iter().copied())).all(db).await?);
    }
    Ok(rows)
}

/// `tenant`'s accepted requests of one kind.
pub(super) fn accepted(tenant: &TenantId, kind: RequestKind) -> sea_orm::Select<request::Entity> {
    Scope(tenant).find::<request::Entity>().filter(shown(kind))
}

/// What makes a request of `kind` visible to its tenant: it is of that kind and was accepted.
fn shown(kind: RequestKind) -> Condition {
    Condition::all().add(request::Column::Kind.eq(kind)).add(request::Column::Accepted.eq(true))
}

/// One accepted CSV request by id, read together with the API key whose hash is `key_hash`, in
/// one statement: `None` when no key has that hash, else the key and the request if it is one
/// of the key's tenant's. The key's tenant is the scope, as [`Scope`] would make it.
pub async fn find_with_key(
    readers: &Readers,
    key_hash: &str,
    id: RequestId,
) -> Result<Option<(api_key::Model, Option<request::Model>)>, DbErr> {
    let (sql, values) = key_and_request(readers.backend(), key_hash, id);
    let Some(row) = readers.one(sql, values).await? else {
        return Ok(None);
    };
    let key = api_key::Model::from_query_result(&row, SelectA.as_str())?;
    Ok(Some((key, request::Model::from_query_result_optional(&row, SelectB.as_str())?)))
}

/// The statement of [`find_with_key`], built once per backend with stand-in values and then given
/// each call's own: sea-query wrote the same text anew for every status read, a tenth of its CPU.
fn key_and_request(backend: DbBackend, key_hash: &str, id: RequestId) -> (&'static str, Values) {
    static BUILT: [OnceLock<(Statement, Value, Value)>; 2] = [const { OnceLock::new() }; 2];
    let slot = usize::from(backend == DbBackend::Postgres);
    let (template, hash_stand_in, id_stand_in) = BUILT[slot].get_or_init(|| {
        // Neither can be a bound constant of the query (a kind, a flag, the limit).
        let (hash, id) = ("\u{1}stand-in key hash", RequestId::new());
        (key_and_request_query(hash, id).build(backend), Value::from(hash), Value::from(id))
    });
    let values = template.values.iter().flat_map(|v| &v.0).map(|v| match v {
        v if v == hash_stand_in => Value::from(key_hash),
        v if v == id_stand_in => Value::from(id),
        v => v.clone(),
    });
    (&template.sql, Values(values.collect()))
}

fn key_and_request_query(key_hash: &str, id: RequestId) -> SelectTwo<api_key::Entity, request::Entity> {
    let theirs = api_key::Entity::belongs_to(request::Entity)
        .from(api_key::Column::TenantId)
        .to(request::Column::TenantId)
        .on_condition(move |_, _| shown(RequestKind::Request).add(request::Column::Id.eq(id)))
        .into();
    api_key::Entity::find()
        .filter(api_key::Column::Hash.eq(key_hash))
        .select_also(request::Entity)
        .join(JoinType::LeftJoin, theirs)
        .limit(1)
}

/// A page of what `query` matches, newest first, and the total it matches.
pub(super) async fn newest_first(
    db: &impl ConnectionTrait,
    query: sea_orm::Select<request::Entity>,
    offset: u64,
    limit: u64,
) -> Result<(Vec<request::Model>, u64), DbErr> {
    let total = query.clone().count(db).await?;
    let rows = query
        .order_by_desc(request::Column::CreatedAt)
        .order_by_desc(request::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((rows, total))
}

/// A product with its images in URL order.
pub type ProductWithImages = (product::Model, Vec<image::Model>);

/// Products `offset..offset+limit` of a request (all of them when `limit` is `None`), in file
/// order, with their images.
pub async fn products(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    id: RequestId,
    offset: u64,
    limit: Option<u64>,
) -> Result<Vec<ProductWithImages>, DbErr> {
    let mut query = Scope(tenant)
        .find::<product::Entity>()
        .filter(product::Column::RequestId.eq(id))
        .order_by_asc(product::Column::Position);
    // SQLite accepts OFFSET only after a LIMIT.
    if let Some(limit) = limit {
        query = query.offset(offset).limit(limit);
    }
    let products = query.all(db).await?;
    if products.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = Scope(tenant).find::<image::Entity>().filter(image::Column::RequestId.eq(id));
    if limit.is_some() {
        query = query.filter(image::Column::ProductId.is_in(products.iter().map(|p| p.id)));
    }
    let mut by_product: HashMap<ProductId, Vec<image::Model>> = HashMap::new();
    for img in query.order_by_asc(image::Column::Position).all(db).await? {
        by_product.entry(img.product_id).or_default().push(img);
    }
    Ok(products
        .into_iter()
        .map(|p| {
            let imgs = by_product.remove(&p.id).unwrap_or_default();
            (p, imgs)
        })
        .collect())
}

/// Marks a queued request as processing once its first image starts.
pub async fn mark_processing(db: &impl ConnectionTrait, tenant: &TenantId, id: RequestId) -> Result<(), DbErr> {
    Scope(tenant)
        .update::<request::Entity>()
        .col_expr(request::Column::Status, RequestStatus::Processing.into())
        .col_expr(request::Column::UpdatedAt, super::now().into())
        .filter(request::Column::Id.eq(id))
        .filter(request::Column::Status.eq(RequestStatus::Queued))
        .exec(db)
        .await?;
    Ok(())
}

/// Sets a request's final status unless it already has one; true when this call set it.
pub async fn finish(
    txn: &impl ConnectionTrait,
    tenant: &TenantId,
    id: RequestId,
    status: RequestStatus,
    completed_at: chrono::DateTime<chrono::Utc>,
) -> Result<bool, DbErr> {
    let result = Scope(tenant)
        .update::<request::Entity>()
        .col_expr(request::Column::Status, status.into())
        .col_expr(request::Column::CompletedAt, Some(completed_at).into())
        .col_expr(request::Column::UpdatedAt, completed_at.into())
        .filter(request::Column::Id.eq(id))
        .filter(request::Column::Status.is_in([RequestStatus::Queued, RequestStatus::Processing]))
        .exec(txn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Marks a request accepted: every job of it is queued.
pub async fn mark_accepted(db: &impl ConnectionTrait, tenant: &TenantId, id: RequestId) -> Result<(), DbErr> {
    set_accepted(db, tenant, id, true).await
}

/// Shows (accepted) or hides a request from every read.
pub(super) async fn set_accepted(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    id: RequestId,
    accepted: bool,
) -> Result<(), DbErr> {
    Scope(tenant)
        .update::<request::Entity>()
        .col_expr(request::Column::Accepted, accepted.into())
        .filter(request::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Requests of every tenant created before `cutoff` and never accepted: their upload died before
/// all their jobs were queued. (The recovery pass works for every tenant; it names each row's.)
pub async fn unaccepted_before(
    db: &impl ConnectionTrait,
    cutoff: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<(TenantId, RequestId)>, DbErr> {
    request::Entity::find()
        .select_only()
        .column(request::Column::TenantId)
        .column(request::Column::Id)
        .filter(request::Column::Accepted.eq(false))
        .filter(request::Column::CreatedAt.lt(cutoff))
        .into_tuple()
        .all(db)
        .await
}

/// Removes a request and everything under it (used when it could not be queued). The rows are
/// removed child first rather than by the foreign keys' cascade, which SQLite applies only on
/// connections that enabled it.
pub async fn delete(db: &impl ConnectionTrait, tenant: &TenantId, id: RequestId) -> Result<(), DbErr> {
    let scope = Scope(tenant);
    scope.delete::<webhook_delivery::Entity>().filter(webhook_delivery::Column::RequestId.eq(id)).exec(db).await?;
    scope.delete::<image::Entity>().filter(image::Column::RequestId.eq(id)).exec(db).await?;
    scope.delete::<product::Entity>().filter(product::Column::RequestId.eq(id)).exec(db).await?;
    scope.delete::<request::Entity>().filter(request::Column::Id.eq(id)).exec(db).await?;
    Ok(())
}
