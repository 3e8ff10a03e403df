//! `vlgor check --inject color-swap`: two objects' colours swapped in the frames from a random
//! step on (the first frame included), drawn by re-rendering those states' scenes with the
//! colours exchanged. CLEVR: two balls of different colours; Meta-World: a shape at the task
//! object and the scene shape whose colour differs most from it. Only a swap that shows at an
//! object's position in the first swapped frame is used (one hidden behind the arm, or on a
//! shape too small to cover a pixel, is one no frame can show).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::path::Path;
use vlgor_render::{RenderConfig, Renderer};
use vlgor_sim::validate::inject::{Fault, Injected};
use vlgor_sim::validate::replay::Snapshot;
use vlgor_sim::validate::{Reason, Replayer, ValidatorConfig};
use vlgor_sim::{Scene, ShapeKind};

use super::{Injections, Loaded};
use crate::context::Context;
use crate::ecs::validate::colors::{object_points, patch_psnr};
use crate::error::CliError;

/// Smallest L1 colour difference (linear RGB) of a swap worth the name.
const MIN_COLOR_GAP: f32 = 0.3;

fn gap(a: [f32; 3], b: [f32; 3]) -> f32 {
    (0..3).map(|c| (a[c] - b[c]).abs()).sum()
}

/// Index of the shape whose centre is nearest `p` (spheres only when `spheres`).
fn nearest(scene: &Scene, p: [f32; 3], spheres: bool) -> Option<usize> {
    let d = |q: [f32; 3]| (0..3).map(|i| (q[i] - p[i]).powi(2)).sum::<f32>();
    scene
        .shapes
        .iter()
        .enumerate()
        .filter(|(_, s)| !spheres || matches!(s.kind, ShapeKind::Sphere { .. }))
        .min_by(|a, b| d(a.1.position).total_cmp(&d(b.1.position)))
        .map(|(i, _)| i)
}

/// Candidate pairs of shapes to swap in `scene` (of the state `snap`), most likely first, or
/// why there are none. CLEVR: pairs of balls of different colours, shuffled; Meta-World: each
/// of the shapes nearest the object point with the shape whose colour differs most from it.
fn candidates(
    scene: &Scene,
    snap: &Snapshot,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<(usize, usize)>, &'static str> {
    let color = |i: usize| scene.shapes[i].color;
    let pairs: Vec<(usize, usize)> = match snap {
        Snapshot::Clevr { balls } => {
            let ids: Vec<usize> = balls
                .iter()
                .filter_map(|b| nearest(scene, *b, true))
                .collect();
            let mut pairs: Vec<(usize, usize)> = (0..ids.len())
                .flat_map(|i| (i + 1..ids.len()).map(move |j| (i, j)))
                .map(|(i, j)| (ids[i], ids[j]))
                .filter(|&(a, b)| a != b && gap(color(a), color(b)) >= MIN_COLOR_GAP)
                .collect();
            for i in (1..pairs.len()).rev() {
                pairs.swap(i, rng.random_range(0..=i));
            }
            pairs
        }
        Snapshot::MetaWorld { key, .. } => {
            let d = |q: [f32; 3]| (0..3).map(|i| (q[i] - key[i]).powi(2)).sum::<f32>();
            let mut near: Vec<usize> = (0..scene.shapes.len()).collect();
            near.sort_by(|&a, &b| {
                d(scene.shapes[a].position).total_cmp(&d(scene.shapes[b].position))
            });
            near.into_iter()
                .take(6)
                .filter_map(|a| {
                    (0..scene.shapes.len())
                        .filter(|&b| b != a)
                        .max_by(|&x, &y| {
                            gap(color(a), color(x)).total_cmp(&gap(color(a), color(y)))
                        })
                        .filter(|&b| gap(color(a), color(b)) >= MIN_COLOR_GAP)
                        .map(|b| (a, b))
                })
                .collect()
        }
    };
    if pairs.is_empty() {
        return Err("no two objects have different colours");
    }
    Ok(pairs)
}

fn swap_colors(scene: &mut Scene, (a, b): (usize, usize)) {
    if a.max(b) < scene.shapes.len() {
        let ca = scene.shapes[a].color;
        scene.shapes[a].color = scene.shapes[b].color;
        scene.shapes[b].color = ca;
    }
}

/// Whether swapping `pair` shows in `swapped` (frame of the swapped scene) against `plain`
/// (the unswapped render) at one of the objects' projected centres: a swap hidden behind the
/// arm or too small to cover a pixel is not one any frame can show.
fn visible(
    plain: &[u8],
    swapped: &[u8],
    size: usize,
    scene: &Scene,
    snap: &Snapshot,
    cfg: &ValidatorConfig,
) -> bool {
    let (a, b) = (
        vlgor_vlm::metrics::to_unit(plain),
        vlgor_vlm::metrics::to_unit(swapped),
    );
    object_points(snap).iter().any(|(_, p)| {
        vlgor_render::project(&scene.camera, *p, size as u32, size as u32)
            .and_then(|(x, y)| patch_psnr(&a, &b, size, x, y))
            .is_some_and(|psnr| psnr < cfg.min_object_psnr_db)
    })
}

/// Puts a colour swap into every rollout with frames (see the module docs).
pub(super) fn inject_all(
    ctx: &Context,
    loaded: &mut Loaded,
    cfg: &ValidatorConfig,
    dir: &Path,
) -> Result<Injections, CliError> {
    let mut injected = vec![None; loaded.rollouts.len()];
    let mut not_applicable = BTreeMap::<String, usize>::new();
    let mut renderers = BTreeMap::<usize, Renderer>::new();
    let mut rp = Replayer::new();
    for (i, r) in loaded.rollouts.iter_mut().enumerate() {
        let bad = |e: String| {
            CliError::Input(format!(
                "{}: episode {}: {e}",
                dir.display(),
                loaded.metas[i].index
            ))
        };
        let mut rng =
            ChaCha8Rng::seed_from_u64(ctx.seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let Some(frames) = r.frames.as_mut() else {
            *not_applicable
                .entry("the rollout has no frames".into())
                .or_default() += 1;
            continue;
        };
        let n = r.states.len().min(frames.len());
        if n == 0 {
            continue;
        }
        let k = rng.random_range(0..n);
        let snap = rp
            .snapshot(&r.goal, &r.states[k])
            .map_err(|e| bad(e.to_string()))?;
        let env = rp.env(&r.goal).map_err(|e| bad(e.to_string()))?;
        let mut scenes = Vec::with_capacity(n - k);
        for s in &r.states[k..n] {
            env.set_state(s).map_err(|e| bad(e.to_string()))?;
            scenes.push(env.scene(&r.camera).map_err(|e| bad(e.to_string()))?);
        }
        let pairs = match candidates(&scenes[0], &snap, &mut rng) {
            Ok(p) => p,
            Err(why) => {
                *not_applicable.entry(why.into()).or_default() += 1;
                continue;
            }
        };
        let size = r.frame_size;
        let renderer = match renderers.entry(size) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => e.insert(
                Renderer::new(RenderConfig {
                    width: size as u32,
                    height: size as u32,
                    supersample: ctx.config.render.supersample,
                })
                .map_err(|e| CliError::Other(e.into()))?,
            ),
        };
        let render_one = |renderer: &mut Renderer, scene: &Scene| {
            renderer
                .render_batch(std::slice::from_ref(scene))
                .map(|b| b.pixels)
                .map_err(|e| CliError::Other(e.into()))
        };
        let plain = render_one(renderer, &scenes[0])?;
        let mut chosen = None;
        for pair in pairs {
            let mut s0 = scenes[0].clone();
            swap_colors(&mut s0, pair);
            if visible(&plain, &render_one(renderer, &s0)?, size, &s0, &snap, cfg) {
                chosen = Some(pair);
                break;
            }
        }
        let Some(pair) = chosen else {
            *not_applicable
                .entry("no colour swap shows where the objects stand".into())
                .or_default() += 1;
            continue;
        };
        for scene in &mut scenes {
            swap_colors(scene, pair);
        }
        let batch = renderer
            .render_batch(&scenes)
            .map_err(|e| CliError::Other(e.into()))?;
        let len = batch.frame_len();
        for (j, px) in batch.pixels.chunks_exact(len).enumerate() {
            frames[k + j] = px.to_vec();
        }
        injected[i] = Some(Injected {
            fault: Fault::ColorSwap,
            step: k,
            reason: Reason::FrameConsistency,
        });
    }
    Ok((injected, not_applicable))
}
