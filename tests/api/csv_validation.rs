//! Rejected uploads: each answered with a problem+json saying what and where, nothing stored.

use serde_json::Value;

use crate::helpers::TestApp;

const HEADER: &str = "S. No.,Product Name,Input Image Urls";

/// A refused CSV and what its first problem must say.
struct Case {
    what: &'static str,
    csv: String,
    line: u64,
    column: Option<u64>,
    word: &'static str,
}

fn case(what: &'static str, csv: String, line: u64, column: Option<u64>, word: &'static str) -> Case {
    Case { what, csv, line, column, word }
}

fn invalid_csvs() -> Vec<Case> {
    let ok = "https://cdn.example.com/a.jpg";
    vec![
        case("empty file", String::new(), 1, None, "empty"),
        case("header only", format!("{HEADER}\n"), 1, None, "no data rows"),
        case("unknown column", format!("{HEADER},Price\n1,A,{ok},3\n"), 1, Some(4), "Price"),
        case("missing column", "S. No.,Product Name\n1,A\n".into(), 1, None, "Input Image Urls"),
        case("serial not a number", format!("{HEADER}\n1,A,{ok}\nabc,B,{ok}\n"), 3, Some(1), "positive integer"),
        case("duplicate serial", format!("{HEADER}\n1,A,{ok}\n2,B,{ok}\n1,C,{ok}\n"), 4, Some(1), "already used"),
        case("blank product name", format!("{HEADER}\n1,  ,{ok}\n"), 2, Some(2), "blank"),
        case("ftp url", format!("{HEADER}\n1,A,\"{ok},ftp://x.example/b.jpg\"\n"), 2, Some(3), "ftp://x.example/b.jpg"),
        case("relative url", format!("{HEADER}\n1,A,/images/a.jpg\n"), 2, Some(3), "/images/a.jpg"),
        case("no url", format!("{HEADER}\n1,A,\"\"\n"), 2, Some(3), "at least one URL"),
        case(
            "multi-line name shifts lines",
            format!("{HEADER}\n1,\"Two\nlines\",{ok}\n2,B,nope\n"),
            4,
            Some(3),
            "nope",
        ),
        case("blank lines are counted", format!("{HEADER}\n\n\n1,A,nope\n"), 4, Some(3), "nope"),
        case("too many cells", format!("{HEADER}\n1,A,{ok},extra\n"), 2, Some(4), "cells"),
        case("negative serial", format!("\u{feff}{HEADER}\r\n-1,A,{ok}\r\n"), 2, Some(1), "positive integer"),
    ]
}

#[tokio::test]
async fn every_invalid_csv_is_answered_422_with_the_line_and_column_of_each_problem() {
    let app = TestApp::spawn().await;
    for Case { what, csv, line, column, word } in invalid_csvs() {
        let response = app.upload_with(csv, &[]).await;
        assert_eq!(response.status(), 422, "{what}");
        assert_eq!(response.headers()["content-type"], "application/problem+json", "{what}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["status"], 422, "{what}");
        assert_eq!(problem["title"], "The CSV is invalid", "{what}");
        let first = &problem["errors"][0];
        assert_eq!(first["line"], line, "{what}: {problem:#}");
        assert_eq!(first["column"].as_u64(), column, "{what}: {problem:#}");
        assert!(first["message"].as_str().unwrap().contains(word), "{what}: {problem:#}");
    }
    let (_, list) = app.get_json("/api/v1/requests").await;
    assert_eq!(list["total"], 0, "no rejected upload may leave a request behind");
}

#[tokio::test]
async fn a_csv_with_many_problems_lists_each_up_to_one_hundred() {
    let app = TestApp::spawn().await;
    let mut csv = format!("{HEADER}\n");
    for i in 1..=150 {
        csv.push_str(&format!("{i},Product {i},not-a-url\n"));
    }
    let problem: Value = app.upload_with(csv, &[]).await.json().await.unwrap();
    let errors = problem["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 100);
    assert_eq!(errors[0]["line"], 2);
    assert_eq!(errors[99]["line"], 101);
}

#[tokio::test]
async fn bad_form_fields_are_answered_400_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let csv = format!("{HEADER}\n1,A,https://cdn.example.com/a.jpg\n");
    for (fields, word) in [
        (vec![("webhook_url", "ftp://example.com/hook")], "http"),
        (vec![("webhook_url", "not a url")], "webhook_url"),
        (vec![("quality", "0")], "quality"),
        (vec![("quality", "101")], "quality"),
        (vec![("quality", "high")], "quality"),
        (vec![("colour", "blue")], "colour"),
    ] {
        let response = app.upload_with(csv.clone(), &fields).await;
        assert_eq!(response.status(), 400, "{fields:?}");
        let problem: Value = response.json().await.unwrap();
        assert!(problem["detail"].as_str().unwrap().contains(word), "{fields:?}: {problem:#}");
    }

    let no_file = reqwest::multipart::Form::new().text("quality", "50");
    let response = app.http.post(format!("{}/api/v1/requests", app.base)).multipart(no_file).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let problem: Value = response.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("file"), "{problem:#}");

    let not_multipart = app.http.post(format!("{}/api/v1/requests", app.base)).body(csv).send().await.unwrap();
    assert_eq!(not_multipart.status(), 400);
    assert_eq!(not_multipart.headers()["content-type"], "application/problem+json");

    let (_, list) = app.get_json("/api/v1/requests").await;
    assert_eq!(list["total"], 0);
}

#[tokio::test]
async fn an_upload_over_the_limit_is_answered_413() {
    let app = TestApp::builder().with_config(|c| c.max_upload_bytes = imgbatch::config::ByteSize(2048)).spawn().await;
    let mut csv = format!("{HEADER}\n");
    for i in 1..=100 {
        csv.push_str(&format!("{i},Product {i},https://cdn.example.com/{i}.jpg\n"));
    }
    assert!(csv.len() > 2048);
    let response = app.upload_with(csv, &[]).await;
    assert_eq!(response.status(), 413);
    let problem: Value = response.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("2048"), "{problem:#}");

    // Endless small fields are bounded too, by the size of the whole body.
    let padding = "5".repeat(4000);
    let fields: Vec<(&str, &str)> = (0..40).map(|_| ("quality", padding.as_str())).collect();
    let response = app.upload_with("S. No.,Product Name,Input Image Urls\n", &fields).await;
    assert_eq!(response.status(), 413);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let (_, list) = app.get_json("/api/v1/requests").await;
    assert_eq!(list["total"], 0);
}
