//! One table of every bench's figures against the performance targets, printed last by
//! `cargo bench` (this bench runs after `compress` and `pipeline`) and written as `summary.json`.

use serde_json::{Value, json};

/// A figure, what it came to, its target and whether it was met (`None`: no target).
struct Line {
    figure: String,
    value: String,
    target: &'static str,
    met: Option<bool>,
}

/// Reads `compress.json` and `pipeline.json` where earlier benches wrote them, adds `service`
/// (this bench's figures), prints the table and gives it as JSON.
pub fn summary(service: &Value) -> Value {
    let read = |name: &str| -> Value {
        let path = super::common::out_dir().join(format!("{name}.json"));
        std::fs::read_to_string(path).ok().and_then(|s| serde_json::from_str(&s).ok()).unwrap_or(Value::Null)
    };
    let (compress, pipeline) = (read("compress"), read("pipeline"));
    let mut lines = Vec::new();
    let mut add = |figure: String, value: String, target: &'static str, met: Option<bool>| {
        lines.push(Line { figure, value, target, met });
    };
    let num = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    for row in compress["rows"].as_array().into_iter().flatten().filter(|r| r["row"] == "JPEG full size") {
        add(
            format!("codec JPEG full size, {} thread{}", row["threads"], if row["threads"] == 1 { "" } else { "s" }),
            format!(
                "{:.1} img/s, {:.1} MP/s, {:.3} CPU-s/img, out/in {:.3}",
                num(&row["images_per_second"]),
                num(&row["output_megapixels_per_second"]),
                num(&row["cpu_seconds_per_image"]),
                num(&row["out_over_in_bytes"])
            ),
            "",
            None,
        );
    }
    if !pipeline.is_null() {
        let p = |k: &str| num(&pipeline[k]);
        add("end to end img/s".into(), format!("{:.1}", p("images_per_second")), "", None);
        let speed = p("images_per_second_over_codec_all_threads");
        add("  ÷ codec alone, all cores".into(), format!("{speed:.2}"), ">= 0.90", Some(speed >= 0.90));
        add("end to end CPU-s/img".into(), format!("{:.3}", p("cpu_seconds_per_image")), "", None);
        let cpu = p("cpu_per_image_over_codec");
        add("  ÷ codec alone, 1 thread".into(), format!("{cpu:.2}"), "<= 1.10", Some(cpu <= 1.10));
        add("time to first output".into(), format!("{:.2} s", p("seconds_to_first_image")), "", None);
        add("last image to webhook".into(), format!("{:.0} ms", p("seconds_last_image_to_webhook") * 1e3), "", None);
        let rss = p("peak_rss_mib");
        add("peak RSS, corpus".into(), format!("{rss:.0} MiB"), "<= 250 MiB", Some(rss <= 250.0));
        let bound = p("memory_bound_mib");
        add("  within the bound by design".into(), format!("{bound:.0} MiB"), "", Some(rss <= bound));
    }
    for idle in service["idle"].as_array().into_iter().flatten() {
        let share = num(&idle["cpu_percent_of_a_core"]);
        let name = format!("idle CPU, {}", idle["process"].as_str().unwrap_or("?"));
        add(name, format!("{share:.2}% of a core"), "< 1%", Some(share < 1.0));
    }
    for wake in service["wake"].as_array().into_iter().flatten() {
        let ms = num(&wake["max_ms"]);
        let name = format!("upload to fetch, {}", wake["setup"].as_str().unwrap_or("?"));
        add(name, format!("{ms:.0} ms"), "<= 250 ms", Some(ms <= 250.0));
    }
    for i in service["ingest"].as_array().into_iter().flatten() {
        let (per_row, secs, rss) =
            (i["urls_per_row"].as_u64().unwrap_or(0), num(&i["seconds_to_202"]), num(&i["peak_rss_mib"]));
        let (target, limit) = if per_row == 1 { ("<= 3 s", 3.0) } else { ("<= 10 s", 10.0) };
        let shape = format!("{} {} x {per_row}", i["database"].as_str().unwrap_or("?"), i["rows"]);
        add(
            format!("ingest {shape}, to 202"),
            format!("{secs:.2} s, {:.0} rows/s", num(&i["rows_per_second"])),
            target,
            Some(secs <= limit),
        );
        add(format!("ingest {shape}, peak RSS"), format!("{rss:.0} MiB"), "<= 200 MiB", Some(rss <= 200.0));
        let p99 = num(&i["status_read_p99_ms"]);
        let failed = i["failed_reads_or_uploads"].as_u64().unwrap_or(0);
        add(
            format!("ingest {shape}, reads p99, failures"),
            format!("{p99:.1} ms, {failed}"),
            "<= 50 ms, 0",
            Some(p99 <= 50.0 && failed == 0),
        );
    }
    let status = &service["status_api"];
    if !status.is_null() {
        let (rate, p99) = (num(&status["requests_per_second"]), num(&status["p99_ms"]));
        let value = format!("{rate:.0} req/s, p50 {:.2} ms, p99 {p99:.2} ms", num(&status["p50_ms"]));
        add(
            "status API (wrk, 64 connections)".into(),
            value,
            ">= 20000, p99 <= 5 ms",
            Some(rate >= 20_000.0 && p99 <= 5.0),
        );
    }
    println!("\nsummary on {}:", super::common::machine());
    let width = lines.iter().map(|l| l.figure.chars().count()).max().unwrap_or(0);
    for l in &lines {
        let met = match l.met {
            Some(true) => "met",
            Some(false) => "NOT MET",
            None => "",
        };
        println!("  {:<width$}  {:<52} {:<22} {met}", l.figure, l.value, l.target);
    }
    let rows: Vec<Value> =
        lines.iter().map(|l| json!({"figure": l.figure, "value": l.value, "target": l.target, "met": l.met})).collect();
    json!({ "rows": rows })
}
