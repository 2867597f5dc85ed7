//! The OpenAPI document's frame (info, tags); paths and schemas come from the route list.

use utoipa::OpenApi;

/// The API's description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "imgbatch",
        description = "Upload a product CSV (`S. No.,Product Name,Input Image Urls`); imgbatch downloads \
every image, compresses it to JPEG, and gives the CSV back with an `Output Image Urls` column. \
Give a `webhook_url` to receive one signed call (Standard Webhooks) when every image has finished.\n\n\
Errors are `application/problem+json` (RFC 9457).",
        license(name = "MIT")
    ),
    tags(
        (name = "requests", description = "Upload a CSV and follow its processing"),
        (name = "webhooks", description = "The completion webhook of a request"),
        (name = "files", description = "Compressed images"),
        (name = "health", description = "Liveness and readiness")
    ),
    components(schemas(crate::domain::event::RequestCompleted))
)]
pub struct ApiDoc;

/// The whole OpenAPI document as pretty JSON: served at `/api-docs/openapi.json`, printed by
/// `imgbatch openapi`, committed as `openapi/openapi.json`.
pub fn openapi_json() -> String {
    let (_, api) = super::routes().split_for_parts();
    api.to_pretty_json().expect("the OpenAPI document serialises")
}
