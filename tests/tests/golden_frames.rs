//! Golden images: frames of fixed simulator states, rendered by the real renderer, compared with
//! the committed references in `assets/reference/` (PSNR ≥ 40 dB, so small driver differences
//! pass and real regressions fail). `VLGOR_UPDATE_GOLDEN=1 cargo test --release -p vlgor-tests
//! --test golden_frames` rewrites the references.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;
use vlgor_render::{Frame, RenderConfig, Renderer};
use vlgor_sim::clevr::{self, ClevrEnv};
use vlgor_sim::metaworld::{self, MetaWorldEnv, Task};
use vlgor_sim::{Env, Level};

fn reference_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../assets/reference")
}

/// The scenes under test: (file name, env, camera); each env is reset with seed 7.
fn cases() -> Vec<(&'static str, Box<dyn Env>, &'static str)> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut clevr_env = ClevrEnv::new();
    clevr_env
        .reset(7, &clevr::sample_instruction(Level::Seen, &mut rng))
        .unwrap();
    let mut cases: Vec<(&str, Box<dyn Env>, &str)> = vec![
        ("clevr_default.png", Box::new(clevr_env.clone()), "default"),
        ("clevr_topview.png", Box::new(clevr_env), "topview"),
    ];
    for (name, task, camera) in [
        (
            "metaworld_pick_place_corner4.png",
            Task::PickPlace,
            "corner4",
        ),
        ("metaworld_door_open_corner4.png", Task::DoorOpen, "corner4"),
        (
            "metaworld_button_press_topview.png",
            Task::ButtonPress,
            "topview",
        ),
    ] {
        let mut env = MetaWorldEnv::new(task);
        env.reset(
            7,
            &metaworld::sample_instruction(task, Level::Seen, &mut rng),
        )
        .unwrap();
        // A few expert steps so the arm is posed away from its start.
        let mut erng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..25 {
            let a = env.expert_action(0.0, &mut erng);
            env.step(&a).unwrap();
        }
        cases.push((name, Box::new(env), camera));
    }
    cases
}

fn read_png(path: &PathBuf) -> Frame {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb, "{}", path.display());
    buf.truncate(info.buffer_size());
    Frame {
        width: info.width,
        height: info.height,
        pixels: buf,
    }
}

fn psnr(a: &[u8], b: &[u8]) -> f64 {
    let mse = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    }
}

#[test]
fn frames_match_the_committed_references() {
    let mut renderer = Renderer::new(RenderConfig::default()).unwrap();
    let update = std::env::var_os("VLGOR_UPDATE_GOLDEN").is_some();
    for (name, env, camera) in cases() {
        let frame = renderer.render(&env.scene(camera).unwrap()).unwrap();
        let path = reference_dir().join(name);
        if update {
            std::fs::create_dir_all(reference_dir()).unwrap();
            vlgor_render::output::save_png(&path, &frame).unwrap();
            continue;
        }
        let reference = read_png(&path);
        assert_eq!(
            (reference.width, reference.height),
            (frame.width, frame.height),
            "{name}"
        );
        let p = psnr(&reference.pixels, &frame.pixels);
        assert!(
            p >= 40.0,
            "{name}: PSNR {p:.1} dB against the reference (< 40 dB)"
        );
    }
}

#[test]
fn clevr_ball_pixels_sit_where_the_camera_projects_them() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut env = ClevrEnv::new();
    env.reset(3, &clevr::sample_instruction(Level::Seen, &mut rng))
        .unwrap();
    let scene = env.scene("default").unwrap();
    let mut renderer = Renderer::new(RenderConfig::default()).unwrap();
    let frame = renderer.render(&scene).unwrap();
    let red = env.ball_xy()[0];
    let centre = [
        red[0],
        red[1],
        scene
            .shapes
            .iter()
            .find(|s| s.color[0] > 0.9 && s.color[1] < 0.2)
            .unwrap()
            .position[2],
    ];
    let (px, py) = vlgor_render::project(&scene.camera, centre, 128, 128).unwrap();
    // Centroid of clearly red pixels.
    let (mut sx, mut sy, mut n) = (0.0, 0.0, 0.0);
    for y in 0..128u32 {
        for x in 0..128u32 {
            let [r, g, b] = frame.pixel(x, y).unwrap();
            if r > 150 && g < 90 && b < 90 {
                sx += x as f64 + 0.5;
                sy += y as f64 + 0.5;
                n += 1.0;
            }
        }
    }
    assert!(n > 20.0, "red ball visible ({n} pixels)");
    let (cx, cy) = (sx / n, sy / n);
    assert!(
        (cx - px as f64).abs() < 3.0 && (cy - py as f64).abs() < 3.0,
        "centroid ({cx:.1},{cy:.1}) vs projection ({px:.1},{py:.1})"
    );
}
