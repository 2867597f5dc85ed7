//! `GET /api/v1/requests/{id}/products`.

use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
};

use super::{
    auth::Caller,
    dto::{Pagination, ProductOut, ProductPage},
    extract::{RequestPath, check_page, find_request},
};
use crate::{
    db,
    error::{Problem, Result},
    state::AppState,
};

/// List a request's products
///
/// Products in file order, each with its images and their outcome.
#[utoipa::path(
    get, path = "/api/v1/requests/{id}/products", tag = "requests",
    params(("id" = String, Path, description = "The request id"), Pagination),
    responses(
        (status = 200, description = "A page of products", body = ProductPage),
        (status = 400, description = "Bad paging parameters", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_products(
    State(state): State<AppState>,
    Caller(tenant): Caller,
    RequestPath(id): RequestPath,
    page: Result<Query<Pagination>, QueryRejection>,
) -> Result<Json<ProductPage>> {
    let Pagination { offset, limit } = check_page(page)?;
    let request = find_request(&state, &tenant, id).await?;
    let rows = db::requests::products(&state.db, &tenant, request.id, offset, Some(limit)).await?;
    let items = rows.into_iter().map(|p| ProductOut::new(p, &state.urls)).collect();
    Ok(Json(ProductPage { items, total: request.products as u64, offset, limit }))
}
