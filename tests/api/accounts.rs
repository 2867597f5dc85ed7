//! Accounts, sign-in, API keys and tokens: every credential fault is a 401 with
//! `WWW-Authenticate: Bearer`, and a revoked key stops working at once.

use std::process::Stdio;

use serde_json::{Value, json};

use crate::helpers::{ApiClient, TestApp, api::new_tenant, process};

/// Asserts a 401 problem with the bearer challenge, and returns its detail.
async fn assert_unauthorized(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer realm=\"imgbatch\"");
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["status"], 401);
    problem["detail"].as_str().unwrap().to_owned()
}

async fn requests_with(app: &TestApp, authorization: Option<&str>) -> reqwest::Response {
    let mut call = ApiClient::new(&app.base).http.get(format!("{}/api/v1/requests", app.base));
    if let Some(value) = authorization {
        call = call.header("authorization", value);
    }
    call.send().await.unwrap()
}

#[tokio::test]
async fn a_merchant_registers_signs_in_and_every_credential_fault_is_a_401() {
    let app = TestApp::spawn().await;
    let open = ApiClient::new(&app.base);
    let register = |body: Value| open.http.post(format!("{}/api/v1/auth/register", app.base)).json(&body).send();

    let response = register(json!({"email": "Shop@Example.com", "password": "correct horse battery"})).await.unwrap();
    assert_eq!(response.status(), 201);
    let account: Value = response.json().await.unwrap();
    assert_eq!(account["email"], "shop@example.com", "emails are kept lower-cased");
    assert!(account["tenant_id"].as_str().is_some_and(|t| t.len() == 36), "{account}");
    assert!(account.get("password").is_none() && !account.to_string().contains("argon2"));

    let taken = register(json!({"email": "shop@example.com", "password": "another long one"})).await.unwrap();
    assert_eq!(taken.status(), 409);
    let short = register(json!({"email": "new@example.com", "password": "short"})).await.unwrap();
    assert_eq!(short.status(), 400);
    assert!(short.text().await.unwrap().contains("at least 10 characters"));
    let bad_email = register(json!({"email": "not-an-email", "password": "long enough pw"})).await.unwrap();
    assert_eq!(bad_email.status(), 400);

    let login = |email: &str, password: &str| {
        open.http
            .post(format!("{}/api/v1/auth/login", app.base))
            .json(&json!({"email": email, "password": password}))
            .send()
    };
    let wrong_password = assert_unauthorized(login("shop@example.com", "wrong horse battery").await.unwrap()).await;
    let unknown_email = assert_unauthorized(login("nobody@example.com", "correct horse battery").await.unwrap()).await;
    assert_eq!(wrong_password, unknown_email, "the answer does not tell which was wrong");

    let response = login("SHOP@example.com", "correct horse battery").await.unwrap();
    assert_eq!(response.status(), 200);
    let token: Value = response.json().await.unwrap();
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["expires_in"], 3600);
    let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap());
    assert_eq!(requests_with(&app, Some(&bearer)).await.status(), 200);

    assert!(assert_unauthorized(requests_with(&app, None).await).await.contains("Authorization"));
    for fault in ["Basic c2hvcDpwdw==", "Bearer", "Bearer ", "Bearer not-a-token", "Bearer ib_never-issued"] {
        assert_unauthorized(requests_with(&app, Some(fault)).await).await;
    }
    // A token signed with another key, one expired 10 s ago (past the 5 s leeway), and one for an
    // account that does not exist.
    let secret = imgbatch::db::settings::get(&app.state.db, "jwt_secret").await.unwrap().expect("a stored key");
    let sign = |key: &str, sub: &str, exp: i64| {
        let claims = json!({"sub": sub, "exp": exp, "iss": "imgbatch"});
        let key = jsonwebtoken::EncodingKey::from_secret(key.as_bytes());
        format!("Bearer {}", jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap())
    };
    let tenant = account["tenant_id"].as_str().unwrap();
    let now = chrono::Utc::now().timestamp();
    assert_eq!(
        requests_with(&app, Some(&sign(&secret, tenant, now + 60))).await.status(),
        200,
        "a well-made token works"
    );
    assert_unauthorized(requests_with(&app, Some(&sign(&"x".repeat(32), tenant, now + 60))).await).await;
    let expired = assert_unauthorized(requests_with(&app, Some(&sign(&secret, tenant, now - 10))).await).await;
    assert!(expired.contains("expired"), "{expired}");
    assert_unauthorized(
        requests_with(&app, Some(&sign(&secret, "01937a1e-0000-7000-8000-000000000000", now + 60))).await,
    )
    .await;
}

#[tokio::test]
async fn api_keys_are_shown_once_listed_without_the_key_and_stop_working_at_once_when_revoked() {
    let app = TestApp::spawn().await;
    let (merchant, _) = new_tenant(&app.base, "keys@example.com").await;
    let response =
        merchant.http.post(format!("{}/api/v1/api-keys", app.base)).json(&json!({"name": "shop backend"})).send();
    let response = response.await.unwrap();
    assert_eq!(response.status(), 201);
    let made: Value = response.json().await.unwrap();
    let key = made["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("ib_") && key.len() >= 46, "{key}");
    assert!(key.starts_with(made["prefix"].as_str().unwrap()));

    let machine = ApiClient::with_bearer(&app.base, &key);
    assert_eq!(machine.get_json("/api/v1/requests").await.0, 200);
    let (status, list) = machine.get_json("/api/v1/api-keys").await;
    assert_eq!(status, 200);
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["items"][0]["name"], "shop backend");
    assert!(list["items"][0]["last_used_at"].is_string(), "use is recorded: {list}");
    assert!(!list.to_string().contains(&key), "a listed key never shows the key");
    let blank = merchant.http.post(format!("{}/api/v1/api-keys", app.base)).json(&json!({"name": " "})).send();
    assert_eq!(blank.await.unwrap().status(), 400);

    let id = made["id"].as_str().unwrap();
    let revoked = merchant.http.delete(format!("{}/api/v1/api-keys/{id}", app.base)).send().await.unwrap();
    assert_eq!(revoked.status(), 204);
    let after = machine.http.get(format!("{}/api/v1/requests", app.base)).send().await.unwrap();
    assert!(assert_unauthorized(after).await.contains("not valid"));
    let again = merchant.http.delete(format!("{}/api/v1/api-keys/{id}", app.base)).send().await.unwrap();
    assert_eq!(again.status(), 404);
}

#[tokio::test]
async fn with_registration_closed_only_the_operator_makes_accounts_and_its_cli_key_and_token_work() {
    let app = TestApp::builder()
        .with_config(|c| c.access.registration = imgbatch::auth::settings::Registration::Closed)
        .spawn()
        .await;
    let body = json!({"email": "closed@example.com", "password": "correct horse battery"});
    let response = ApiClient::new(&app.base).http.post(format!("{}/api/v1/auth/register", app.base)).json(&body);
    assert_eq!(response.send().await.unwrap().status(), 403);

    let env = process::imgbatch_env(&app.config);
    let mut create = tokio::process::Command::new(env!("CARGO_BIN_EXE_imgbatch"));
    create
        .args(["tenant", "create", "--email", "closed@example.com", "--password-stdin"])
        .envs(env.iter().map(|(k, v)| (*k, v)));
    create.current_dir(app.dir.path()).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = create.spawn().unwrap();
    use tokio::io::AsyncWriteExt;
    child.stdin.take().unwrap().write_all(b"correct horse battery\n").await.unwrap();
    let out = tokio::time::timeout(crate::helpers::PATIENCE, child.wait_with_output()).await.unwrap().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8(out.stdout).unwrap();
    let field = |name: &str| printed.lines().find_map(|l| l.strip_prefix(name)).unwrap().trim().to_owned();
    let (tenant, key) = (field("tenant_id:"), field("api_key (shown once):"));
    assert_eq!(ApiClient::with_bearer(&app.base, &key).get_json("/api/v1/requests").await.0, 200);

    let login = ApiClient::new(&app.base).http.post(format!("{}/api/v1/auth/login", app.base)).json(&body);
    assert_eq!(login.send().await.unwrap().status(), 200, "the password read from stdin signs in");

    let token = tokio::process::Command::new(env!("CARGO_BIN_EXE_imgbatch"))
        .args(["token", "--sub", &tenant, "--ttl", "10m"])
        .envs(env.iter().map(|(k, v)| (*k, v)))
        .current_dir(app.dir.path())
        .output();
    let token = tokio::time::timeout(crate::helpers::PATIENCE, token).await.unwrap().unwrap();
    assert!(token.status.success(), "{}", String::from_utf8_lossy(&token.stderr));
    let token = String::from_utf8(token.stdout).unwrap();
    assert_eq!(ApiClient::with_bearer(&app.base, token.trim()).get_json("/api/v1/requests").await.0, 200);
}

#[tokio::test]
async fn with_auth_off_no_credentials_are_needed() {
    let app = TestApp::builder().with_config(|c| c.access.auth = imgbatch::auth::settings::AuthMode::Off).spawn().await;
    let (status, body) = ApiClient::new(&app.base).get_json("/api/v1/requests").await;
    assert_eq!(status, 200, "{body}");
}
