//! Images/s end to end at each of several concurrencies, and their plot.

use std::path::PathBuf;
use std::{env, fs};

use anyhow::Context;

use super::common;
use super::corpus::{Service, corpus_csv, process};

/// With `IMGBATCH_BENCH_SWEEP` (concurrencies such as `1,2,4,8,16,32`), images/s end to end at
/// each, on a fresh service each time, printed and drawn as `concurrency.svg` beside the JSON.
pub async fn sweep(
    http: &reqwest::Client,
    names: &[String],
    images_at: std::net::SocketAddr,
    images: usize,
) -> anyhow::Result<Vec<(usize, f64)>> {
    let Ok(list) = env::var("IMGBATCH_BENCH_SWEEP") else { return Ok(Vec::new()) };
    let mut points = Vec::new();
    for concurrency in list.split(',') {
        let concurrency: usize =
            concurrency.trim().parse().ok().filter(|&n| n > 0).context("IMGBATCH_BENCH_SWEEP: expected 1,2,4,…")?;
        let service = Service::start(concurrency).await?;
        let done = process(http, &service.base, corpus_csv(names, images_at, images), None, false).await?;
        service.stop().await?;
        let per_sec = images as f64 / done.wall.as_secs_f64();
        println!("  concurrency {concurrency:>3}: {per_sec:.1} img/s");
        points.push((concurrency, per_sec));
    }
    plot(&points)?;
    Ok(points)
}

/// Draws images/s against concurrency.
fn plot(points: &[(usize, f64)]) -> anyhow::Result<()> {
    use plotters::prelude::*;
    let path =
        PathBuf::from(env::var_os("IMGBATCH_BENCH_OUT").unwrap_or("target/bench".into())).join("concurrency.svg");
    fs::create_dir_all(path.parent().context("a folder")?)?;
    let (max_x, max_y) = points.iter().fold((1, 1.0f64), |(x, y), &(c, v)| (x.max(c), y.max(v)));
    let root = SVGBackend::new(&path, (720, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("imgbatch end to end, {}", common::machine()), ("sans-serif", 18))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d((1u32..max_x as u32 + max_x as u32 / 4).log_scale(), 0.0..max_y * 1.15)?;
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .x_desc("IMGBATCH_CONCURRENCY (log scale)")
        .y_desc("images/s")
        .draw()?;
    let series = points.iter().map(|&(c, v)| (c as u32, v));
    chart.draw_series(LineSeries::new(series.clone(), &BLUE))?;
    chart.draw_series(series.map(|p| Circle::new(p, 4, BLUE.filled())))?;
    root.present()?;
    println!("plot written to {}", path.display());
    Ok(())
}
