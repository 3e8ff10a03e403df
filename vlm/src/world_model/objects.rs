//! The object state of the object-state visual head: which objects are tracked, how their
//! positions are read from and written into a simulator state, and [`StateCanvas`], which draws
//! frames of predicted states with the project's renderer.
//!
//! CLEVR tracks six objects, each as (x, y) in metres: the five balls (in colour order) and the
//! pusher. A drawn state keeps everything else of the rollout's real initial state (rotations,
//! heights, the start positions), with every velocity zero: a drawn frame is a state at rest.

use vlgor_render::Renderer;
use vlgor_sim::clevr::physics::{DIRECTIONS, NUM_BALLS, REACH_X, REACH_Y, WorldState, push_start};
use vlgor_sim::{Action, Env, EnvKind};

use super::error::WorldModelError;

/// Floats per ball in the CLEVR world state (position 3, rotation 4, linear and angular
/// velocity 3 + 3).
const BALL_FLOATS: usize = 13;

/// Tracked objects of a simulator (CLEVR: the five balls and the pusher; Meta-World: none).
pub fn object_count(env: EnvKind) -> usize {
    match env {
        EnvKind::Clevr => NUM_BALLS + 1,
        EnvKind::MetaWorld => 0,
    }
}

fn clevr_only(env: EnvKind) -> Result<(), WorldModelError> {
    match env {
        EnvKind::Clevr => Ok(()),
        EnvKind::MetaWorld => Err(WorldModelError::BadInput(
            "the object_state head tracks CLEVR objects only; use visual_head = \"direct\" for \
             Meta-World"
                .into(),
        )),
    }
}

/// The tracked objects' (x, y) of a simulator state (`2 × object_count` floats, metres).
pub fn read_objects(env: EnvKind, state: &[f32]) -> Result<Vec<f32>, WorldModelError> {
    clevr_only(env)?;
    if state.len() < WorldState::LEN {
        return Err(WorldModelError::BadInput(format!(
            "a CLEVR state holds at least {} floats, got {}",
            WorldState::LEN,
            state.len()
        )));
    }
    let mut out = Vec::with_capacity(2 * (NUM_BALLS + 1));
    for b in 0..NUM_BALLS {
        out.extend_from_slice(&state[b * BALL_FLOATS..b * BALL_FLOATS + 2]);
    }
    let p = NUM_BALLS * BALL_FLOATS;
    out.extend_from_slice(&state[p..p + 2]);
    Ok(out)
}

/// Keeps predicted ball centres inside the walls' reach (a ball cannot pass a wall).
pub fn settle(env: EnvKind, objects: &mut [f32]) {
    if env == EnvKind::Clevr {
        for b in objects.chunks_exact_mut(2).take(NUM_BALLS) {
            b[0] = b[0].clamp(REACH_X[0], REACH_X[1]);
            b[1] = b[1].clamp(REACH_Y[0], REACH_Y[1]);
        }
    }
}

/// A CLEVR push starts with the pusher placed behind the pushed ball
/// ([`vlgor_sim::clevr::physics::push_start`]), as the simulator places it, so a step's
/// displacements are measured from there: the pusher's then is about the ball's, instead of
/// a jump across the table. `objects` are CLEVR's tracked objects (five balls, then the
/// pusher); anything else, and `None`, is left as it is.
pub fn place_for_action(objects: &mut [f32], action: Option<Action>) {
    let Some(Action::Discrete(a)) = action else {
        return;
    };
    let (ball, dir) = (a as usize / DIRECTIONS.len(), a as usize % DIRECTIONS.len());
    if objects.len() != 2 * (NUM_BALLS + 1) || ball >= NUM_BALLS {
        return;
    }
    let start = push_start([objects[2 * ball], objects[2 * ball + 1]], dir);
    objects[2 * NUM_BALLS..].copy_from_slice(&start);
}

/// Writes object positions into `state` (a copy of a real state of the same simulator), with
/// every ball's velocities zeroed.
pub fn write_objects(
    env: EnvKind,
    state: &mut [f32],
    objects: &[f32],
) -> Result<(), WorldModelError> {
    clevr_only(env)?;
    if state.len() < WorldState::LEN || objects.len() != 2 * (NUM_BALLS + 1) {
        return Err(WorldModelError::BadInput(format!(
            "CLEVR objects: a state of >= {} floats and {} object floats, got {} and {}",
            WorldState::LEN,
            2 * (NUM_BALLS + 1),
            state.len(),
            objects.len()
        )));
    }
    for b in 0..NUM_BALLS {
        let s = &mut state[b * BALL_FLOATS..(b + 1) * BALL_FLOATS];
        s[..2].copy_from_slice(&objects[2 * b..2 * b + 2]);
        s[7..13].fill(0.0);
    }
    let p = NUM_BALLS * BALL_FLOATS;
    state[p..p + 2].copy_from_slice(&objects[2 * NUM_BALLS..]);
    Ok(())
}

/// The perceived state (the policy's observation) of tracked objects: CLEVR's ten ball
/// coordinates, exactly what the state readout would report of a perfect frame.
pub fn perceived(env: EnvKind, objects: &[f32]) -> Vec<f32> {
    match env {
        EnvKind::Clevr => objects[..(2 * NUM_BALLS).min(objects.len())].to_vec(),
        EnvKind::MetaWorld => Vec::new(),
    }
}

/// Draws frames of predicted object states: per rollout a real initial simulator state whose
/// tracked objects are replaced, rendered from the environment's default camera.
pub struct StateCanvas<'a> {
    pub env: &'a mut dyn Env,
    pub renderer: &'a mut Renderer,
    /// Per rollout: the simulator state of its initial frame.
    pub states: Vec<Vec<f32>>,
}

impl StateCanvas<'_> {
    pub fn kind(&self) -> EnvKind {
        self.env.kind()
    }

    /// The tracked objects of every rollout's initial state.
    pub fn initial_objects(&self) -> Result<Vec<Vec<f32>>, WorldModelError> {
        let kind = self.kind();
        self.states.iter().map(|s| read_objects(kind, s)).collect()
    }

    /// Renders one frame per rollout with `objects[i]` written into rollout i's state;
    /// u8 [N, H, W, 3].
    pub fn draw(&mut self, objects: &[Vec<f32>]) -> Result<Vec<u8>, WorldModelError> {
        if objects.len() != self.states.len() {
            return Err(WorldModelError::BadInput(format!(
                "{} object states for {} rollouts",
                objects.len(),
                self.states.len()
            )));
        }
        let kind = self.kind();
        let camera = self.env.cameras()[0];
        let mut scenes = Vec::with_capacity(objects.len());
        for (state, obj) in self.states.iter().zip(objects) {
            let mut s = state.clone();
            write_objects(kind, &mut s, obj)?;
            self.env.set_state(&s)?;
            scenes.push(self.env.scene(camera)?);
        }
        Ok(self.renderer.render_batch(&scenes)?.pixels)
    }
}
