//! `GET /api/v1/requests/{id}/output.csv`.

use axum::{extract::State, http::header, response::IntoResponse};

use super::{
    auth::Caller,
    extract::{RequestPath, find_request},
};
use crate::{
    db,
    error::{ApiError, Problem, Result},
    manifest::{OutputRow, render},
    state::AppState,
};

/// Download the output CSV
///
/// The uploaded CSV with an `Output Image Urls` column: output URLs in the same order and count
/// as the inputs, a failed image's slot left empty. Available once every image has finished.
#[utoipa::path(
    get, path = "/api/v1/requests/{id}/output.csv", tag = "requests",
    params(("id" = String, Path, description = "The request id")),
    responses(
        (status = 200, description = "The output CSV", content_type = "text/csv", body = String,
            example = "S. No.,Product Name,Input Image Urls,Output Image Urls\n1,SKU1,\"https://a.example/1.jpg,https://a.example/2.jpg\",\"http://127.0.0.1:8080/files/9f86d0…jpg,\"\n"),
        (status = 404, description = "No such request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The request has not finished yet", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "https://imgbatch.dev/problems/conflict", "title": "Not available yet", "status": 409,
                "detail": "the request is processing; the output CSV is available once every image has finished (3 of 5 so far)"})),
    )
)]
pub async fn get_output_csv(
    State(state): State<AppState>,
    Caller(tenant): Caller,
    RequestPath(id): RequestPath,
) -> Result<impl IntoResponse> {
    let request = find_request(&state, &tenant, id).await?;
    let status = request.status;
    if !status.is_final() {
        return Err(ApiError::Conflict(format!(
            "the request is {}; the output CSV is available once every image has finished ({} of {} so far)",
            status.as_str(),
            request.succeeded + request.failed,
            request.images
        )));
    }
    let products = db::requests::products(&state.db, &tenant, request.id, 0, None).await?;
    let outputs: Vec<Vec<Option<String>>> = products
        .iter()
        .map(|(_, images)| images.iter().map(|i| i.output_key.as_deref().map(|k| state.urls.file(k))).collect())
        .collect();
    let rows = products.iter().zip(&outputs).map(|((p, images), outs)| OutputRow {
        serial_number: p.serial_number,
        product_name: &p.name,
        input_urls: images.iter().map(|i| i.input_url.as_str()).collect(),
        output_urls: outs.iter().map(Option::as_deref).collect(),
    });
    let csv = render(rows);
    let disposition = format!("attachment; filename=\"imgbatch-{}.csv\"", request.id);
    Ok((
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, disposition)],
        csv,
    ))
}
