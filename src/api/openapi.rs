//! The OpenAPI document's frame (info, tags, the bearer scheme); paths and schemas come from the
//! route list.

use utoipa::{
    Modify, OpenApi,
    openapi::{
        Content, OpenApi as Document, Ref, RefOr, Response, ResponseBuilder,
        example::ExampleBuilder,
        security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme},
    },
};

use crate::{error::ApiError, outage::Part};

/// The API's description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "imgbatch",
        description = "Upload a product CSV (`S. No.,Product Name,Input Image Urls`); imgbatch downloads \
every image, compresses it (JPEG by default; WebP or PNG with `format`, fitted to a box with `width`, \
`height` and `fit`), and gives the CSV back with an `Output Image Urls` column. \
Or submit one image as a job (`POST /api/v1/jobs`: multipart, base64 JSON or a URL) and fetch its \
result. Give a `webhook_url` to receive one signed call (Standard Webhooks, signed with your \
account's own secret, `request.completed` or `job.completed`) when it has finished.\n\n\
Every `/api/v1` call but register and login needs `Authorization: Bearer <API key or token>`: \
an API key (`ib_…`, from `POST /api/v1/api-keys` or printed by the server's first start) or a token \
from `POST /api/v1/auth/login`. Each account sees only its own requests; another account's ids \
answer 404.\n\n\
Errors are `application/problem+json` (RFC 9457).",
        license(name = "MIT")
    ),
    tags(
        (name = "accounts", description = "Accounts, sign-in and API keys"),
        (name = "requests", description = "Upload a CSV and follow its processing"),
        (name = "jobs", description = "One image in (multipart, base64 or URL), one result out"),
        (name = "webhooks", description = "Completion webhooks and their signing secret"),
        (name = "files", description = "Compressed images"),
        (name = "health", description = "Liveness and readiness")
    ),
    components(schemas(crate::domain::event::RequestCompleted, crate::domain::job::JobCompleted))
)]
pub struct ApiDoc;

/// Adds the bearer scheme, required on every `/api/v1` route that does not say otherwise, and
/// its 401 answer to each of them. Applied to the whole document, once the routes are in it.
pub struct Bearer;

impl Modify for Bearer {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("API key (ib_…) or JWT")
                    .description(Some("An API key or a token from POST /api/v1/auth/login"))
                    .build(),
            ),
        );
        doc.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
        let example = ExampleBuilder::new()
            .value(Some(serde_json::json!({
                "type": "https://imgbatch.dev/problems/unauthorized",
                "title": "Authentication required",
                "status": 401,
                "detail": "this call needs `Authorization: Bearer <API key or token>`"
            })))
            .build();
        let mut content = Content::new(Some(Ref::from_schema_name("Problem")));
        content.examples.insert("missing".into(), example.into());
        let unauthorized = ResponseBuilder::new()
            .description("No valid credentials: missing, malformed, expired or revoked")
            .header(
                "WWW-Authenticate",
                utoipa::openapi::HeaderBuilder::new()
                    .schema(Some(utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::Type::String)))
                    .description(Some("`Bearer realm=\"imgbatch\"`"))
                    .build(),
            )
            .content("application/problem+json", content)
            .build();
        for (path, item) in doc.paths.paths.iter_mut() {
            for op in
                [&mut item.get, &mut item.post, &mut item.put, &mut item.delete, &mut item.patch].into_iter().flatten()
            {
                // Routes that say `security(())` are open: they are how one gets credentials.
                if path.starts_with("/api/v1/") && op.security.is_none() {
                    op.responses.responses.entry("401".into()).or_insert_with(|| unauthorized.clone().into());
                }
                for (code, response) in op.responses.responses.iter_mut() {
                    if let (RefOr::T(response), Some(error)) = (response, example_error(code, path)) {
                        add_example(response, &error);
                    }
                }
            }
        }
    }
}

/// The error a route answers with `code`, rendered as its example where the route gives none.
fn example_error(code: &str, path: &str) -> Option<ApiError> {
    Some(match code {
        "404" if path.starts_with("/api/v1/api-keys") => ApiError::NotFound("API key"),
        "404" if path.starts_with("/files") => ApiError::NotFound("file"),
        "404" if path.starts_with("/api/v1/jobs") => ApiError::NotFound("job"),
        "404" => ApiError::NotFound("request"),
        "400" => ApiError::bad_request("expected a JSON body: missing field `name`"),
        "403" => ApiError::Forbidden(
            "registration is closed; an operator makes accounts with `imgbatch tenant create`".into(),
        ),
        "409" => ApiError::Conflict(
            "this account's secret is set by the server's IMGBATCH_WEBHOOK_SECRET; change it there".into(),
        ),
        "429" => ApiError::too_many(
            "at most 60 uploads per minute (IMGBATCH_RATE_UPLOADS)",
            std::time::Duration::from_secs(20),
        ),
        "500" => ApiError::Internal(anyhow::anyhow!("example")),
        "503" => ApiError::unavailable(Part::Database, &"example"),
        _ => return None,
    })
}

/// Gives a problem response its example, unless it has one.
fn add_example(response: &mut Response, error: &ApiError) {
    let Some(RefOr::T(content)) = response.content.get_mut("application/problem+json") else { return };
    if content.example.is_some() || !content.examples.is_empty() {
        return;
    }
    content.example = serde_json::to_value(error.problem()).ok();
}

/// The whole OpenAPI document as pretty JSON: served at `/api-docs/openapi.json`, printed by
/// `imgbatch openapi`, committed as `openapi/openapi.json`.
pub fn openapi_json() -> String {
    let (_, api) = super::split();
    api.to_pretty_json().expect("the OpenAPI document serialises")
}
