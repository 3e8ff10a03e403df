//! Frames per second of batched 128x128 rendering, read-back included.
//! `cargo run --release -p vlgor-render --example throughput -- [clevr|metaworld|both] [SUPERSAMPLE] [REPS]`

use vlgor_render::demo_scenes;
use vlgor_render::{RenderConfig, Renderer};
use vlgor_sim::Scene;

/// Builds the scene of a seed.
type MakeScene = fn(u64) -> Scene;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let which = args.first().map(String::as_str).unwrap_or("both");
    let ss: u32 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(2);
    let reps: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(3);
    let mut r = Renderer::new(RenderConfig {
        width: 128,
        height: 128,
        supersample: ss,
    })?;
    println!("adapter: {}; 128x128, supersample {ss}", r.adapter_info());
    let kinds: Vec<(&str, MakeScene)> = [
        (
            "clevr (7 shapes)",
            demo_scenes::random_clevr_scene as fn(u64) -> Scene,
        ),
        ("metaworld (40 shapes)", demo_scenes::random_metaworld_scene),
        ("empty (clear only)", |seed| {
            let mut s = demo_scenes::random_clevr_scene(seed);
            s.shapes.clear();
            s
        }),
    ]
    .into_iter()
    .filter(|(n, _)| (which == "both" && !n.starts_with("empty")) || n.starts_with(which))
    .collect();
    for (name, make) in kinds {
        for n in [64usize, 128, 256] {
            let scenes: Vec<Scene> = (0..n as u64).map(make).collect();
            r.render_batch(&scenes)?;
            let (t, cpu0) = (std::time::Instant::now(), cpu_seconds());
            for _ in 0..reps {
                r.render_batch(&scenes)?;
            }
            let frames = (reps * n) as f64;
            let fps = frames / t.elapsed().as_secs_f64();
            let cpu_ms = cpu_seconds().map(|c| (c - cpu0.unwrap_or(0.0)) * 1e3 / frames);
            println!(
                "{name}: batch {n}: {fps:.0} frames/s wall; {} CPU ms/frame (all threads)",
                cpu_ms.map_or("?".into(), |c| format!("{c:.3}"))
            );
        }
    }
    Ok(())
}

/// User + system CPU time of this process (all threads), from /proc (Linux only).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}
