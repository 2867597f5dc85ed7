//! `GET /api/v1/requests/{id}/products`.

use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
};

use super::dto::{Pagination, ProductOut, ProductPage};
use super::extract::PathParam;
use crate::{
    db,
    error::{ApiError, Problem, Result},
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
    PathParam(id): PathParam,
    page: Result<Query<Pagination>, QueryRejection>,
) -> Result<Json<ProductPage>> {
    let Pagination { offset, limit } = check_page(page)?;
    let request = super::requests::find(&state, &id).await?;
    let rows =
        db::requests::products(&state.db, request.id.parse().expect("stored ids are UUIDs"), offset, Some(limit))
            .await?;
    let items = rows.into_iter().map(|p| ProductOut::new(p, &state.public_base)).collect();
    Ok(Json(ProductPage { items, total: request.products as u64, offset, limit }))
}

/// Validates paging parameters.
pub fn check_page(page: Result<Query<Pagination>, QueryRejection>) -> Result<Pagination> {
    let Query(page) = page.map_err(|e| ApiError::bad_request(format!("bad paging parameters: {}", e.body_text())))?;
    if !(1..=1000).contains(&page.limit) {
        return Err(ApiError::bad_request(format!("limit must be from 1 to 1000, got {}", page.limit)));
    }
    Ok(page)
}
