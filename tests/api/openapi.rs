//! The committed OpenAPI document is the one the code generates.

#[test]
fn the_committed_openapi_document_matches_the_code() {
    let generated = imgbatch::api::openapi::openapi_json();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed.trim_end() == generated.trim_end(),
        "openapi/openapi.json is out of date; refresh it with `cargo run -- openapi > openapi/openapi.json`"
    );
}

#[test]
fn every_operation_documents_its_responses_and_errors() {
    let spec: serde_json::Value = serde_json::from_str(&imgbatch::api::openapi::openapi_json()).unwrap();
    let paths = spec["paths"].as_object().unwrap();
    for path in [
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/api-keys",
        "/api/v1/api-keys/{id}",
        "/api/v1/webhook-secret",
        "/api/v1/webhook-secret/rotate",
        "/api/v1/requests",
        "/api/v1/requests/{id}",
        "/api/v1/requests/{id}/products",
        "/api/v1/requests/{id}/output.csv",
        "/api/v1/requests/{id}/webhook",
        "/api/v1/requests/{id}/webhook/redeliver",
        "/files/{key}",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(paths.contains_key(path), "{path} is missing from the document");
    }
    assert_eq!(spec["components"]["securitySchemes"]["bearer"]["scheme"], "bearer", "the bearer scheme is declared");
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            assert!(op["summary"].is_string(), "{method} {path} has no summary");
            for (code, response) in op["responses"].as_object().unwrap() {
                assert!(response["description"].as_str().is_some_and(|d| !d.is_empty()), "{method} {path} {code}");
                if code.starts_with('4') {
                    let problem = &response["content"]["application/problem+json"];
                    assert!(problem.is_object(), "{method} {path} {code} is not a problem");
                    assert!(
                        problem["example"].is_object() || problem["examples"].is_object(),
                        "{method} {path} {code} has no example"
                    );
                }
            }
        }
    }
}
