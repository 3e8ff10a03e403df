//! Renders demo scenes to files and, with `--window`, opens the debugging window.
//! `cargo run --release -p vlgor-render --example render_demo -- OUT_DIR [--window]`
//! writes OUT_DIR/clevr_0000.png..., OUT_DIR/metaworld.png, OUT_DIR/rollout.gif,
//! OUT_DIR/real_vs_imagined.gif and OUT_DIR/real_vs_imagined_last.png.

use vlgor_render::demo_scenes;
use vlgor_render::viewer::{self, ViewerOptions, ViewerSource};
use vlgor_render::{RenderConfig, Renderer, output};
use vlgor_sim::Scene;

/// Balls drift right one step at a time; the "imagined" side drifts left.
struct Drift {
    step: u32,
    camera: usize,
}

impl Drift {
    fn scene(&self, sign: f32) -> Scene {
        let mut s = demo_scenes::random_clevr_scene(7);
        for shape in s.shapes.iter_mut().skip(1) {
            shape.position[0] += sign * 0.01 * (self.step % 40) as f32;
        }
        if self.camera % 2 == 1 {
            s.camera = demo_scenes::clevr_side_camera();
        }
        s
    }
}

impl ViewerSource for Drift {
    fn title(&self) -> String {
        format!("vlgor render demo - step {}", self.step)
    }
    fn frame_scenes(&mut self) -> Vec<Scene> {
        vec![self.scene(1.0), self.scene(-1.0)]
    }
    fn step(&mut self) {
        self.step += 1;
    }
    fn reset(&mut self) {
        self.step = 0;
    }
    fn cycle_camera(&mut self) {
        self.camera += 1;
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or("render_demo".into());
    let mut r = Renderer::new(RenderConfig::default())?;
    println!("adapter: {}", r.adapter_info());
    let mut src = Drift { step: 0, camera: 0 };
    let (mut real, mut imagined) = (Vec::new(), Vec::new());
    for _ in 0..20 {
        let b = r.render_batch(&src.frame_scenes())?;
        real.push(b.frame(0).ok_or("frame 0")?);
        imagined.push(b.frame(1).ok_or("frame 1")?);
        src.step();
    }
    let batch = r.render_batch(
        &(0..4)
            .map(demo_scenes::random_clevr_scene)
            .collect::<Vec<_>>(),
    )?;
    output::save_batch_pngs(&dir, "clevr", &batch)?;
    let mw = r.render(&demo_scenes::random_metaworld_scene(1))?;
    output::save_png(format!("{dir}/metaworld.png"), &mw)?;
    output::save_gif(format!("{dir}/rollout.gif"), &real, 100)?;
    output::save_side_by_side(format!("{dir}/real_vs_imagined.gif"), &real, &imagined, 100)?;
    output::save_side_by_side(
        format!("{dir}/real_vs_imagined_last.png"),
        &real[real.len() - 1..],
        &imagined[imagined.len() - 1..],
        100,
    )?;
    println!("wrote {dir}/");
    if args.iter().any(|a| a == "--window") {
        src.reset();
        let report = viewer::run(&mut src, ViewerOptions::default())?;
        println!("viewer: {report:?}");
    }
    Ok(())
}
