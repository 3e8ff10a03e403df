//! The object state of the object-state visual head: which objects are tracked, how their
//! positions are read from and written into a simulator state, and [`StateCanvas`], which draws
//! frames of predicted states with the project's renderer.
//!
//! CLEVR tracks six objects, each as (x, y) in metres: the five balls (in colour order) and the
//! pusher. A drawn state keeps everything else of the rollout's real initial state (rotations,
//! heights, the start positions), with every velocity zero: a drawn frame is a state at rest.
//! Meta-World tracks the seven values of its perceived state, one scalar each: the hand's
//! (x, y, z), the gripper opening (in [0, 1]) and the task object's observed point (x, y, z),
//! metres; a drawn state is the validator's rebuild of that perceived state
//! ([`vlgor_sim::validate::Replayer::perceived_to_state`]: hand at rest, fingers at the
//! opening, the object at its point or its joint at the nearest position).

use tch::{Device, Kind, Tensor};
use vlgor_render::Renderer;
use vlgor_sim::clevr::physics::{DIRECTIONS, NUM_BALLS, REACH_X, REACH_Y, WorldState, push_start};
use vlgor_sim::spec::Simulators;
use vlgor_sim::validate::perceive::{env_of, perceived_len};
use vlgor_sim::validate::{Replayer, perceive};
use vlgor_sim::{Action, EnvKind, GoalSpec};

use super::error::WorldModelError;

/// Floats per ball in the CLEVR world state (position 3, rotation 4, linear and angular
/// velocity 3 + 3).
const BALL_FLOATS: usize = 13;

/// Tracked objects of a simulator (CLEVR: the five balls and the pusher; Meta-World: the seven
/// perceived values).
pub fn object_count(env: EnvKind) -> usize {
    match env {
        EnvKind::Clevr => NUM_BALLS + 1,
        EnvKind::MetaWorld => perceived_len(EnvKind::MetaWorld),
    }
}

/// Floats per tracked object (CLEVR: x, y; Meta-World: one value).
pub fn object_dim(env: EnvKind) -> usize {
    match env {
        EnvKind::Clevr => 2,
        EnvKind::MetaWorld => 1,
    }
}

/// The tracked objects of a simulator state and its observation, `object_count × object_dim`
/// floats: CLEVR reads the balls' and the pusher's (x, y) from the state, Meta-World the
/// perceived state (the observation's first seven values).
pub fn read_objects(
    env: EnvKind,
    state: &[f32],
    observation: &[f32],
) -> Result<Vec<f32>, WorldModelError> {
    if env == EnvKind::MetaWorld {
        let n = perceived_len(env);
        if observation.len() < n {
            return Err(WorldModelError::BadInput(format!(
                "a Meta-World observation holds at least {n} floats (the perceived state), got {}",
                observation.len()
            )));
        }
        return Ok(perceive(env, observation));
    }
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

/// Keeps predicted objects where they can be: CLEVR ball centres inside the walls' reach (a
/// ball cannot pass a wall), the Meta-World gripper opening in [0, 1].
pub fn settle(env: EnvKind, objects: &mut [f32]) {
    match env {
        EnvKind::Clevr => {
            for b in objects.chunks_exact_mut(2).take(NUM_BALLS) {
                b[0] = b[0].clamp(REACH_X[0], REACH_X[1]);
                b[1] = b[1].clamp(REACH_Y[0], REACH_Y[1]);
            }
        }
        EnvKind::MetaWorld => {
            if let Some(g) = objects.get_mut(3) {
                *g = g.clamp(0.0, 1.0);
            }
        }
    }
}

/// Tracked objects as the model's input, f32 [N, K, D] (`dim` = D floats per object).
pub fn objects_tensor(objects: &[Vec<f32>], dim: usize, dev: Device) -> Tensor {
    let k = objects.first().map_or(0, |o| o.len() / dim.max(1)) as i64;
    let flat: Vec<f32> = objects.concat();
    Tensor::from_slice(&flat)
        .view([objects.len() as i64, k, dim as i64])
        .to_device(dev)
}

/// Adds the object-state head's predicted displacements (`pred`, f32 [N, K, 2D]: positions in
/// s_t, then displacements to s_{t+h}) to `objects` and settles them.
pub fn add_displacements(
    env: EnvKind,
    objects: &mut [Vec<f32>],
    pred: &Tensor,
    dim: usize,
) -> Result<(), WorldModelError> {
    let moved = Vec::<f32>::try_from(
        pred.narrow(2, dim as i64, dim as i64)
            .to_kind(Kind::Float)
            .to_device(Device::Cpu)
            .flatten(0, -1),
    )?;
    let k = objects.first().map_or(1, Vec::len).max(1);
    if moved.len() != k * objects.len() {
        return Err(WorldModelError::BadInput(format!(
            "the object_state head predicted {} displacements for {} rollouts of {k} floats",
            moved.len(),
            objects.len()
        )));
    }
    for (o, d) in objects.iter_mut().zip(moved.chunks(k)) {
        o.iter_mut().zip(d).for_each(|(o, d)| *o += d);
        settle(env, o);
    }
    Ok(())
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

/// Writes CLEVR object positions into `state` (a copy of a real CLEVR state), with every
/// ball's velocities zeroed. (A Meta-World state is rebuilt by [`StateCanvas`].)
pub fn write_objects(state: &mut [f32], objects: &[f32]) -> Result<(), WorldModelError> {
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
/// coordinates, Meta-World's seven values; exactly what the state readout would report of a
/// perfect frame.
pub fn perceived(env: EnvKind, objects: &[f32]) -> Vec<f32> {
    objects[..perceived_len(env).min(objects.len())].to_vec()
}

/// Draws frames of predicted object states: per rollout a real initial simulator state whose
/// tracked objects are replaced, rendered from the environment's default camera by the
/// simulator of the rollout's goal (a Meta-World task has its own layout).
pub struct StateCanvas<'a> {
    renderer: &'a mut Renderer,
    /// Per rollout: the simulator state of its initial frame.
    states: Vec<Vec<f32>>,
    /// Per rollout: the goal it pursues (picks the simulator).
    goals: Vec<GoalSpec>,
    kind: EnvKind,
    /// The simulators that draw (set to a state, never reset).
    sims: Simulators,
    /// Meta-World's conversions between full and perceived states.
    replayer: Replayer,
}

impl<'a> StateCanvas<'a> {
    /// A canvas for rollouts starting at `states`, pursuing `goals` (one each, of one simulator).
    pub fn new(
        renderer: &'a mut Renderer,
        states: Vec<Vec<f32>>,
        goals: Vec<GoalSpec>,
    ) -> Result<Self, WorldModelError> {
        let kind = match goals.first() {
            Some(g) => env_of(g),
            None => {
                return Err(WorldModelError::BadInput(
                    "a state canvas needs at least one rollout".into(),
                ));
            }
        };
        if states.len() != goals.len() || goals.iter().any(|g| env_of(g) != kind) {
            return Err(WorldModelError::BadInput(format!(
                "a state canvas needs one {kind} goal per initial state; got {} states and {} \
                 goals",
                states.len(),
                goals.len()
            )));
        }
        Ok(StateCanvas {
            renderer,
            states,
            goals,
            kind,
            sims: Simulators::new(),
            replayer: Replayer::new(),
        })
    }

    pub fn kind(&self) -> EnvKind {
        self.kind
    }

    /// Rollouts on the canvas.
    pub fn len(&self) -> usize {
        self.states.len()
    }

    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// The tracked objects of every rollout's initial state.
    pub fn initial_objects(&mut self) -> Result<Vec<Vec<f32>>, WorldModelError> {
        let mut out = Vec::with_capacity(self.states.len());
        for (s, g) in self.states.iter().zip(&self.goals) {
            out.push(match self.kind {
                EnvKind::Clevr => read_objects(self.kind, s, &[])?,
                EnvKind::MetaWorld => self.replayer.perceived_of_state(g, s)?,
            });
        }
        Ok(out)
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
        let mut scenes = Vec::with_capacity(objects.len());
        for ((state, goal), obj) in self.states.iter().zip(&self.goals).zip(objects) {
            let s = match self.kind {
                EnvKind::Clevr => {
                    let mut s = state.clone();
                    write_objects(&mut s, obj)?;
                    s
                }
                EnvKind::MetaWorld => self.replayer.perceived_to_state(goal, state, obj)?,
            };
            let env = self.sims.for_goal(goal);
            env.set_state(&s)?;
            scenes.push(env.scene(env.cameras()[0])?);
        }
        Ok(self.renderer.render_batch(&scenes)?.pixels)
    }
}
