//! Headless rendering tests on whatever adapter the machine has (lavapipe on CPU-only hosts).

use vlgor_render::demo_scenes::{self, CLEVR_COLORS};
use vlgor_render::{Frame, RenderConfig, RenderError, Renderer, output, project};
use vlgor_sim::{Scene, Shape, ShapeKind};

fn renderer(width: u32, height: u32, supersample: u32) -> Renderer {
    Renderer::new(RenderConfig {
        width,
        height,
        supersample,
    })
    .expect("no adapter: install mesa-vulkan-drivers and libvulkan1")
}

fn empty_scene(background: [f32; 3]) -> Scene {
    Scene {
        shapes: vec![],
        camera: demo_scenes::clevr_camera(),
        lights: vec![],
        ambient: 0.3,
        background,
    }
}

/// The lead's CI check: the headless adapter exists and one cleared 128x128 frame comes back
/// with every pixel equal to the background colour.
#[test]
fn clear_frame_smoke() {
    let mut r = Renderer::new(RenderConfig::default()).expect("headless adapter");
    let info = r.adapter_info().clone();
    eprintln!("adapter: {info}");
    assert!(!info.name.is_empty());
    let f = r.render(&empty_scene([0.2, 0.4, 0.6])).unwrap();
    assert_eq!(
        (f.width, f.height, f.pixels.len()),
        (128, 128, 128 * 128 * 3)
    );
    for p in f.pixels.chunks(3) {
        assert_eq!(p, [51, 102, 153]);
    }
    assert_eq!(vlgor_render::smoke_check().unwrap(), info);
}

fn mixed_scenes(n: usize) -> Vec<Scene> {
    (0..n)
        .map(|i| {
            if i % 3 == 2 {
                demo_scenes::random_metaworld_scene(i as u64)
            } else {
                demo_scenes::random_clevr_scene(i as u64)
            }
        })
        .collect()
}

/// 70 scenes cross the 64-layer chunk boundary; every frame equals its one-by-one render.
#[test]
fn batch_equals_one_by_one() {
    let mut r = renderer(128, 128, 2);
    let scenes = mixed_scenes(70);
    let batch = r.render_batch(&scenes).unwrap();
    assert_eq!(batch.shape(), [70, 128, 128, 3]);
    assert_eq!(batch.pixels.len(), 70 * 128 * 128 * 3);
    for i in [0usize, 1, 2, 31, 63, 64, 65, 69] {
        let single = r.render(&scenes[i]).unwrap();
        assert_eq!(batch.frame(i).unwrap(), single, "frame {i} differs");
    }
    // Frames of different scenes differ (the batch is not one frame repeated).
    assert_ne!(batch.frame_pixels(0), batch.frame_pixels(1));
    assert!(batch.frame(70).is_none());
}

/// A small read-back budget splits the batch over several submissions; pixels stay the same.
#[test]
fn split_submissions_give_the_same_pixels() {
    let scenes = mixed_scenes(9);
    let mut r = renderer(32, 24, 2);
    let whole = r.render_batch(&scenes).unwrap();
    // A budget below one frame still draws one frame per submission.
    r.set_readback_budget(1);
    assert_eq!(r.render_batch(&scenes).unwrap(), whole);
    // 40x30 at k = 3: rows of 480 bytes padded to 512, 90 rows: 2 frames per submission.
    let mut big = renderer(40, 30, 3);
    let reference: Vec<Frame> = scenes.iter().map(|s| big.render(s).unwrap()).collect();
    big.set_readback_budget(2 * 512 * 90 + 100);
    assert_eq!(big.render_batch(&scenes).unwrap().frames(), reference);
}

#[test]
fn same_scene_gives_identical_pixels() {
    let scenes = mixed_scenes(6);
    let mut a = renderer(128, 128, 2);
    let first = a.render_batch(&scenes).unwrap();
    let again = a.render_batch(&scenes).unwrap();
    let mut b = renderer(128, 128, 2);
    let fresh = b.render_batch(&scenes).unwrap();
    assert_eq!(first, again);
    assert_eq!(first, fresh);
}

/// Mean position of pixels close to `rgb` (within `tol` per channel).
fn centroid(f: &Frame, pred: impl Fn([u8; 3]) -> bool) -> Option<(f32, f32, usize)> {
    let (mut sx, mut sy, mut n) = (0.0, 0.0, 0usize);
    for y in 0..f.height {
        for x in 0..f.width {
            if pred(f.pixel(x, y).unwrap()) {
                sx += x as f32 + 0.5;
                sy += y as f32 + 0.5;
                n += 1;
            }
        }
    }
    (n > 0).then(|| (sx / n as f32, sy / n as f32, n))
}

fn reddish(p: [u8; 3]) -> bool {
    p[0] > 60 && p[1] < 40 && p[2] < 40 && p[0] as u32 > 2 * p[1] as u32
}

/// A red sphere's pixels sit where the camera projects its centre, right side up.
#[test]
fn red_sphere_lands_where_projected() {
    let (w, h) = (128, 96);
    let mut r = renderer(w, h, 2);
    for centre in [[0.0f32, 0.2, -0.25], [0.5, 0.5, -0.2], [-0.4, -0.1, 0.1]] {
        let mut s = empty_scene([0.0, 0.0, 0.0]);
        s.lights = vec![vlgor_sim::Light {
            direction: [0.0, 0.0, -1.0],
            color: [0.8, 0.8, 0.8],
        }];
        s.shapes.push(Shape::new(
            ShapeKind::Sphere { radius: 0.1 },
            centre,
            [1.0, 0.0, 0.0],
        ));
        let f = r.render(&s).unwrap();
        let (px, py) = project(&s.camera, centre, w, h).unwrap();
        let (cx, cy, n) = centroid(&f, reddish).expect("sphere visible");
        assert!(n > 30, "sphere covers only {n} pixels");
        assert!(
            (cx - px).abs() < 1.5 && (cy - py).abs() < 1.5,
            "centroid ({cx}, {cy}) vs projection ({px}, {py}) for {centre:?}"
        );
    }
    // Row 0 is the top: in the CLEVR view a ball far from the camera (large y) is higher up.
    let near = project(&demo_scenes::clevr_camera(), [0.0, -0.1, -0.2], w, h).unwrap();
    let far = project(&demo_scenes::clevr_camera(), [0.0, 0.6, -0.2], w, h).unwrap();
    assert!(far.1 < near.1);
}

#[test]
fn clevr_balls_show_their_colours() {
    let mut r = renderer(128, 128, 2);
    let balls = [
        [-0.4, 0.0],
        [-0.2, 0.4],
        [0.0, 0.1],
        [0.25, 0.45],
        [0.4, 0.0],
    ];
    let s = demo_scenes::clevr_scene(balls, [0.0, -0.2]);
    let f = r.render(&s).unwrap();
    for (b, c) in balls.iter().zip(CLEVR_COLORS) {
        let (px, py) = project(&s.camera, [b[0], b[1], -0.195], 128, 128).unwrap();
        let p = f.pixel(px as u32, py as u32).unwrap();
        // The dominant channel of the ball colour is the brightest channel of the pixel.
        let want = (0..3).max_by(|&i, &j| c[i].total_cmp(&c[j])).unwrap();
        assert_eq!(
            p.iter().enumerate().max_by_key(|(_, v)| **v).unwrap().0,
            want,
            "ball {c:?} at ({px},{py}) shows {p:?}"
        );
    }
}

#[test]
fn other_resolutions_render() {
    let scene = demo_scenes::random_clevr_scene(3);
    for (w, h, k) in [(64, 64, 2), (200, 150, 2), (33, 17, 3), (7, 5, 1)] {
        let mut r = renderer(w, h, k);
        let batch = r
            .render_batch(&[scene.clone(), scene.clone(), scene.clone()])
            .unwrap();
        assert_eq!(batch.shape(), [3, h as usize, w as usize, 3]);
        assert_eq!(batch.frame(0), batch.frame(2), "{w}x{h}");
        let single = r.render(&scene).unwrap();
        assert_eq!(batch.frame(1).unwrap(), single, "{w}x{h}");
        let bg = [31u8, 31, 36];
        assert!(
            single.pixels.chunks(3).any(|p| p != bg),
            "{w}x{h} frame is blank"
        );
    }
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    for (w, h, k) in [(0, 10, 2), (10, 10, 0), (10, 10, 9), (100_000, 10, 2)] {
        let e = Renderer::new(RenderConfig {
            width: w,
            height: h,
            supersample: k,
        });
        assert!(matches!(e, Err(RenderError::Config(_))), "{w}x{h} k{k}");
    }
    let mut r = renderer(32, 32, 1);
    let mut s = demo_scenes::random_clevr_scene(1);
    s.shapes[1].kind = ShapeKind::Sphere { radius: f32::NAN };
    let e = r
        .render_batch(&[demo_scenes::random_clevr_scene(0), s])
        .unwrap_err();
    assert!(e.to_string().contains("scene 1"), "{e}");
    let mut s = demo_scenes::random_clevr_scene(1);
    s.camera.target = s.camera.eye;
    assert!(r.render(&s).is_err());
    assert_eq!(r.render_batch(&[]).unwrap().n, 0);
}

#[test]
fn outputs_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = renderer(64, 48, 2);
    let scenes: Vec<Scene> = (0..4).map(demo_scenes::random_clevr_scene).collect();
    let batch = r.render_batch(&scenes).unwrap();
    let paths = output::save_batch_pngs(dir.path(), "frame", &batch).unwrap();
    assert_eq!(paths.len(), 4);
    let dec = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&paths[2]).unwrap(),
    ));
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (64, 48));
    assert_eq!(&buf[..info.buffer_size()], batch.frame_pixels(2).unwrap());

    let frames = batch.frames();
    output::save_gif(dir.path().join("rollout.gif"), &frames, 100).unwrap();
    let imagined = &frames[1..3];
    output::save_side_by_side(dir.path().join("cmp.gif"), &frames, imagined, 100).unwrap();
    output::save_side_by_side(dir.path().join("cmp.png"), &frames[..1], &frames[1..2], 100)
        .unwrap();
    let sbs = output::side_by_side(&frames[0], &frames[1], true).unwrap();
    assert_eq!(
        (sbs.width, sbs.height),
        (2 * 64 + output::PANEL_GAP, 48 + output::LABEL_HEIGHT)
    );
    // The right panel holds the imagined frame.
    let x0 = 64 + output::PANEL_GAP;
    assert_eq!(
        sbs.pixel(x0 + 10, output::LABEL_HEIGHT + 20),
        frames[1].pixel(10, 20)
    );
    for name in ["rollout.gif", "cmp.gif", "cmp.png"] {
        assert!(
            std::fs::metadata(dir.path().join(name)).unwrap().len() > 100,
            "{name}"
        );
    }
    assert!(output::save_side_by_side(dir.path().join("x.png"), &frames, &frames, 100).is_err());
    assert!(output::save_gif(dir.path().join("e.gif"), &[], 100).is_err());
}

/// Frames per second of batched rendering, read-back included. Run with
/// `cargo test --release -p vlgor-render --test render -- --ignored throughput --nocapture`.
#[test]
#[ignore]
fn throughput() {
    let k: u32 = std::env::var("VLGOR_SS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let mut r = renderer(128, 128, k);
    eprintln!("adapter: {}, supersample {k}", r.adapter_info());
    for (name, make) in [
        (
            "clevr (7 shapes)",
            demo_scenes::random_clevr_scene as fn(u64) -> Scene,
        ),
        ("metaworld (40 shapes)", demo_scenes::random_metaworld_scene),
    ] {
        for n in [64usize, 128, 256] {
            let scenes: Vec<Scene> = (0..n as u64).map(make).collect();
            r.render_batch(&scenes).unwrap();
            let reps = 3;
            let t = std::time::Instant::now();
            for _ in 0..reps {
                r.render_batch(&scenes).unwrap();
            }
            let fps = (reps * n) as f64 / t.elapsed().as_secs_f64();
            eprintln!("{name}: batch {n}: {fps:.0} frames/s");
        }
    }
}

/// The lead may move a renderer into a worker thread.
#[test]
fn renderer_is_send() {
    fn send<T: Send>() {}
    send::<Renderer>();
}

/// Runs only as the child of `no_adapter_error_names_the_package`.
#[test]
#[ignore = "child process of no_adapter_error_names_the_package"]
fn no_adapter_child() {
    if std::env::var_os("VLGOR_NO_ADAPTER_CHILD").is_none() {
        return;
    }
    match Renderer::new(RenderConfig::default()) {
        Err(e @ RenderError::NoAdapter(_)) => {
            let m = e.to_string();
            assert!(
                m.contains("mesa-vulkan-drivers") && m.contains("libvulkan1"),
                "{m}"
            );
        }
        Err(e) => panic!("expected NoAdapter, got {e}"),
        Ok(r) => panic!("expected no adapter, got {}", r.adapter_info()),
    }
}

/// With the Vulkan loader pointed at no driver, `Renderer::new` fails with an error that
/// names the Debian packages to install.
#[test]
fn no_adapter_error_names_the_package() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "no_adapter_child", "--ignored", "--nocapture"])
        .env("VLGOR_NO_ADAPTER_CHILD", "1")
        .env("WGPU_BACKEND", "vulkan")
        .env("VK_ICD_FILENAMES", "/nonexistent/vlgor_no_icd.json")
        .env("VK_DRIVER_FILES", "/nonexistent/vlgor_no_icd.json")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && text.contains("1 passed"), "{text}");
}
