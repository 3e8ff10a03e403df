//! `vlgor check --inject color-swap`: two objects' colours swapped in the frames from a random
//! step on (the first frame included), drawn by re-rendering those states' scenes with the
//! colours exchanged. CLEVR: two balls of different colours; Meta-World: the task object and
//! the scene shape whose colour differs most from it.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::path::Path;
use vlgor_render::{RenderConfig, Renderer};
use vlgor_sim::validate::inject::{Fault, Injected};
use vlgor_sim::validate::replay::Snapshot;
use vlgor_sim::validate::{Reason, Replayer};
use vlgor_sim::{Scene, ShapeKind};

use super::{Injections, Loaded};
use crate::context::Context;
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

/// The two shapes to swap in `scene` (of the state `snap`), or why there are none.
fn pick_pair(
    scene: &Scene,
    snap: &Snapshot,
    rng: &mut ChaCha8Rng,
) -> Result<(usize, usize), &'static str> {
    let color = |i: usize| scene.shapes[i].color;
    match snap {
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
            if pairs.is_empty() {
                return Err("no two balls have different colours");
            }
            Ok(pairs.swap_remove(rng.random_range(0..pairs.len())))
        }
        Snapshot::MetaWorld { key, .. } => {
            let a = nearest(scene, *key, false).ok_or("the scene has no shapes")?;
            let b = (0..scene.shapes.len())
                .filter(|&b| b != a)
                .max_by(|&x, &y| gap(color(a), color(x)).total_cmp(&gap(color(a), color(y))))
                .filter(|&b| gap(color(a), color(b)) >= MIN_COLOR_GAP)
                .ok_or("no other shape has a different colour than the object")?;
            Ok((a, b))
        }
    }
}

/// Puts a colour swap into every rollout with frames (see the module docs).
pub(super) fn inject_all(
    ctx: &Context,
    loaded: &mut Loaded,
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
        let (a, b) = match pick_pair(&scenes[0], &snap, &mut rng) {
            Ok(p) => p,
            Err(why) => {
                *not_applicable.entry(why.into()).or_default() += 1;
                continue;
            }
        };
        for scene in &mut scenes {
            if a.max(b) < scene.shapes.len() {
                let ca = scene.shapes[a].color;
                scene.shapes[a].color = scene.shapes[b].color;
                scene.shapes[b].color = ca;
            }
        }
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
