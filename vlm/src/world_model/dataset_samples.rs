//! [`DatasetSamples`]: a [`SampleProvider`] over a recorded dataset (`vlgor_sim::dataset`),
//! rendering frames on demand from the stored states (set_state + scene + renderer).
//!
//! Samples per episode of length T, keyframe stride h (see [`super::samples`] for ā):
//! the first step (s_0, G, no action) -> ā_0, and (s_t, G, ā_t) -> (s_{t+h}, ā_{t+h}) for every
//! t with t + h <= T; the final transition (t + 2h > T) has no next action, so its action loss is
//! masked. CLEVR samples also carry the tracked objects' positions ([`super::objects`]).

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use vlgor_render::Renderer;
use vlgor_sim::dataset::Dataset;
use vlgor_sim::spec::Simulators;
use vlgor_sim::{Action, Scene};

use super::error::WorldModelError;
use super::objects::read_objects;
use super::samples::keyframe_action;
use super::train::{SampleBatch, SampleProvider};

/// Fine-tuning samples drawn from a dataset, frames rendered when a batch is asked for.
pub struct DatasetSamples<'a> {
    data: &'a Dataset,
    renderer: &'a mut Renderer,
    camera: String,
    h: usize,
    /// (episode, None = first step | Some(t)).
    items: Vec<(usize, Option<usize>)>,
    /// The simulators frames are re-rendered with.
    sims: Simulators,
}

impl<'a> DatasetSamples<'a> {
    /// All samples of `data` with stride `h`; `limit` keeps a seeded random subset of that many
    /// (the CLI's `--samples N`). `camera` "" means each env's default camera. The dataset must
    /// hold states.
    pub fn new(
        data: &'a Dataset,
        renderer: &'a mut Renderer,
        camera: &str,
        h: usize,
        limit: Option<usize>,
        seed: u64,
    ) -> Result<Self, WorldModelError> {
        if data.states.is_empty() || h == 0 {
            return Err(WorldModelError::BadInput(format!(
                "dataset {} has no states (frames re-render from states) or h = {h} is 0",
                data.dir.display()
            )));
        }
        let mut items = Vec::new();
        for (e, ep) in data.episodes.iter().enumerate() {
            if ep.length >= h {
                items.push((e, None));
            }
            let mut t = 0;
            while t + h <= ep.length {
                items.push((e, Some(t)));
                t += 1;
            }
        }
        if let Some(n) = limit {
            items.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
            items.truncate(n);
        }
        Ok(DatasetSamples {
            data,
            renderer,
            camera: camera.to_string(),
            h,
            items,
            sims: Simulators::new(),
        })
    }

    fn action(&self, episode: usize, t: usize) -> Action {
        let ep = &self.data.episodes[episode];
        let window: Vec<Action> = (t..t + self.h)
            .map(|k| self.data.actions.get(ep.first_transition + k))
            .collect();
        keyframe_action(&window)
    }

    /// Appends the tracked objects of rows `from` and `to` of episode `episode`.
    fn push_objects(
        &self,
        out: &mut SampleBatch,
        episode: usize,
        from: usize,
        to: usize,
    ) -> Result<(), WorldModelError> {
        let ep = &self.data.episodes[episode];
        let kind = vlgor_sim::validate::perceive::env_of(&ep.instruction.goal);
        let row = |t: usize| {
            let r = ep.first_row + t;
            read_objects(kind, self.data.state(r), self.data.observation(r))
        };
        out.objects.extend(row(from)?);
        out.target_objects.extend(row(to)?);
        Ok(())
    }

    fn scene(&mut self, episode: usize, t: usize) -> Result<Scene, WorldModelError> {
        let ep = &self.data.episodes[episode];
        let state = self.data.state(ep.first_row + t);
        let env = self.sims.for_goal(&ep.instruction.goal);
        env.set_state(state)?;
        let camera = if self.camera.is_empty() {
            env.cameras()[0]
        } else {
            self.camera.as_str()
        };
        Ok(env.scene(camera)?)
    }
}

impl SampleProvider for DatasetSamples<'_> {
    fn len(&self) -> usize {
        self.items.len()
    }

    fn batch(&mut self, indices: &[usize]) -> Result<SampleBatch, WorldModelError> {
        let mut out = SampleBatch::default();
        let mut scenes = Vec::with_capacity(2 * indices.len());
        for &i in indices {
            let &(e, t) = self.items.get(i).ok_or_else(|| {
                WorldModelError::BadInput(format!(
                    "sample index {i} out of 0..{}",
                    self.items.len()
                ))
            })?;
            out.instructions
                .push(self.data.episodes[e].instruction.text.clone());
            let (from, to) = match t {
                None => (0, 0),
                Some(t) => (t, t + self.h),
            };
            scenes.push(self.scene(e, from)?);
            scenes.push(self.scene(e, to)?);
            out.actions.push(t.map(|t| self.action(e, t)));
            out.has_target_frame.push(t.is_some());
            let next = t.map_or(0, |t| t + self.h);
            let length = self.data.episodes[e].length;
            out.target_actions
                .push((next + self.h <= length).then(|| self.action(e, next)));
            self.push_objects(&mut out, e, from, to)?;
        }
        let frames = self.renderer.render_batch(&scenes)?;
        let fl = frames.frame_len();
        for k in 0..indices.len() {
            out.frames
                .extend_from_slice(&frames.pixels[2 * k * fl..(2 * k + 1) * fl]);
            out.target_frames
                .extend_from_slice(&frames.pixels[(2 * k + 1) * fl..(2 * k + 2) * fl]);
        }
        Ok(out)
    }
}
