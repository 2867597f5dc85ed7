//! The admin key printed by a fresh database's first `serve` is the whole local set-up, and an
//! outside identity provider's tokens act for tenants of their own.

use std::process::Command;

use serde_json::json;

use crate::helpers::{
    ApiClient, ImageServer, TestApp,
    process::{self, ChildProcess, START_TIMEOUT},
};

#[tokio::test]
async fn the_first_serve_prints_an_admin_key_once_and_the_walk_through_works_with_it() {
    let images = ImageServer::start().await;
    let (dir, config) = TestApp::builder().configured().await;
    let env = process::imgbatch_env(&config);
    let mut first = ChildProcess::imgbatch(&["serve", "--bind", "127.0.0.1:0"], &env, dir.path(), "first");
    first.wait_for_line("created the admin account", START_TIMEOUT).await;
    let key = first.wait_for_line("ib_", START_TIMEOUT).await.trim().to_owned();
    let base = first.listening().await;

    let admin = ApiClient::with_bearer(&base, &key);
    let csv = format!(
        "S. No.,Product Name,Input Image Urls\n1,SKU1,\"{},{}\"\n",
        images.url("/img/a.jpg"),
        images.url("/img/b.png")
    );
    let id = admin.submit(&csv, &[("quality", "50")]).await;
    admin.wait_until_finished(&id).await;
    assert_eq!(admin.products(&id).await.len(), 1);
    let output = admin.http.get(format!("{base}/api/v1/requests/{id}/output.csv")).send().await.unwrap();
    assert_eq!(output.status(), 200);
    assert_eq!(ApiClient::new(&base).get_json(&format!("/api/v1/requests/{id}")).await.0, 401, "not without the key");
    first.sigterm();
    first.exit_within(START_TIMEOUT).await;

    // A second start on the same data issues no new key, and the first still works.
    let (again, base) = ChildProcess::serve(&env, dir.path(), "second").await;
    let log = std::fs::read_to_string(dir.path().join("second.log")).unwrap();
    assert!(!log.contains("ib_"), "no key is printed twice: {log}");
    assert_eq!(ApiClient::with_bearer(&base, &key).get_json(&format!("/api/v1/requests/{id}")).await.0, 200);
    drop(again);
}

/// An EC P-256 key pair made with `openssl`: (private PKCS#8 PEM, public PEM).
fn ec_key_pair(dir: &std::path::Path) -> (String, String) {
    let private = dir.join("idp-private.pem");
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).output().expect("openssl is installed (.ci/run installs it)");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    run(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", private.to_str().unwrap()]);
    let public = run(&["pkey", "-in", private.to_str().unwrap(), "-pubout"]);
    (std::fs::read_to_string(private).unwrap(), String::from_utf8(public).unwrap())
}

#[tokio::test]
async fn an_outside_providers_tokens_make_and_act_for_their_own_tenants_only() {
    let keys = tempfile::tempdir().unwrap();
    let (private, public) = ec_key_pair(keys.path());
    let app = TestApp::builder()
        .with_config(|c| {
            c.access.jwt_public_key = Some(public.clone());
            c.access.jwt_issuer = Some("https://idp.example.com/".into());
            c.access.jwt_audience = Some("imgbatch".into());
        })
        .spawn()
        .await;
    let signer = jsonwebtoken::EncodingKey::from_ec_pem(private.as_bytes()).unwrap();
    let token = |sub: &str, aud: &str| {
        let exp = chrono::Utc::now().timestamp() + 300;
        let claims = json!({"sub": sub, "exp": exp, "iss": "https://idp.example.com/", "aud": aud});
        jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256), &claims, &signer).unwrap()
    };
    let outsider = ApiClient::with_bearer(&app.base, &token("auth0|merchant-7", "imgbatch"));
    let csv = "S. No.,Product Name,Input Image Urls\n1,A,https://cdn.example.com/a.jpg\n";
    let id = outsider.submit(csv, &[]).await;
    assert_eq!(outsider.get_json(&format!("/api/v1/requests/{id}")).await.0, 200);
    let (_, secret) = outsider.get_json("/api/v1/webhook-secret").await;
    assert!(secret["secret"].as_str().is_some_and(|s| s.starts_with("whsec_")), "made with a secret: {secret}");
    assert_eq!(app.get_json(&format!("/api/v1/requests/{id}")).await.0, 404, "the admin does not see it");

    let refused = |credential: String| {
        let client = ApiClient::with_bearer(&app.base, &credential);
        async move { client.get_json("/api/v1/requests").await.0 }
    };
    assert_eq!(refused(token("default", "imgbatch")).await, 401, "no outside sub names an account made here");
    assert_eq!(refused(token("auth0|merchant-8", "someone-else")).await, 401, "the audience is checked");
    let other_issuer = json!({"sub": "auth0|merchant-9", "exp": chrono::Utc::now().timestamp() + 300,
        "iss": "https://elsewhere.example.com/", "aud": "imgbatch"});
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    assert_eq!(
        refused(jsonwebtoken::encode(&header, &other_issuer, &signer).unwrap()).await,
        401,
        "the issuer is checked"
    );
    let expired = json!({"sub": "auth0|merchant-7", "exp": chrono::Utc::now().timestamp() - 120,
        "iss": "https://idp.example.com/", "aud": "imgbatch"});
    assert_eq!(refused(jsonwebtoken::encode(&header, &expired, &signer).unwrap()).await, 401, "expiry is checked");
    // The public key taken for an HMAC secret: the algorithm in the header never picks the key.
    let claims = json!({"sub": "auth0|merchant-7", "exp": chrono::Utc::now().timestamp() + 300, "iss": "imgbatch"});
    let confused = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(public.as_bytes()),
    )
    .unwrap();
    assert_eq!(refused(confused).await, 401);
}
