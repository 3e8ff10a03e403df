//! The learned-policy path of the evaluation loop: observe every live env (state vectors, or
//! frames rendered in one batch), then one batched policy forward for all of them.

use bevy_ecs::prelude::*;
use vlgor_rl::goals::GoalTable;
use vlgor_rl::{ObsKind, PolicyObservations};

use crate::policies::LoadedPolicy;

use super::{ChosenAction, EnvSlot, Episode, LoopError};

/// A trained policy (a checkpoint or a TorchScript module) with what it needs to act: goal embeddings of every instruction the run
/// will see, and a renderer for image observations. libtorch and wgpu objects stay on the main
/// thread, so this is a non-`Send` resource.
pub struct LearnedPolicy {
    pub policy: LoadedPolicy,
    pub goals: GoalTable,
    /// Present for image policies, sized to the policy's frames.
    pub renderer: Option<vlgor_render::Renderer>,
    /// Camera the policy was trained with (the env's default camera).
    pub camera: Option<String>,
}

/// observe + act for a learned policy (does nothing when the loop runs a scripted policy).
pub fn act_learned(
    learned: Option<NonSendMut<LearnedPolicy>>,
    mut errors: ResMut<LoopError>,
    mut query: Query<(&EnvSlot, &Episode, &mut ChosenAction)>,
) {
    let Some(mut learned) = learned else { return };
    let mut items: Vec<_> = query.iter_mut().collect();
    if items.is_empty() {
        return;
    }
    let result = (|| -> Result<(), String> {
        let texts: Vec<&str> = items
            .iter()
            .map(|(_, e, _)| e.job.instruction.text.as_str())
            .collect();
        let goals = learned
            .goals
            .tensor(&texts, learned.policy.device())
            .map_err(|e| e.to_string())?;
        let actions = match learned.policy.obs_kind() {
            ObsKind::State => {
                let mut states = Vec::new();
                for (slot, _, _) in &items {
                    states.extend(slot.0.lock().expect("env lock").observation());
                }
                learned
                    .policy
                    .act_batch(PolicyObservations::States(&states), &goals)
            }
            ObsKind::Image => {
                let mut scenes = Vec::with_capacity(items.len());
                for (slot, _, _) in &items {
                    let env = slot.0.lock().expect("env lock");
                    let camera = learned
                        .camera
                        .clone()
                        .unwrap_or_else(|| env.cameras()[0].to_string());
                    scenes.push(env.scene(&camera).map_err(|e| e.to_string())?);
                }
                let renderer = learned
                    .renderer
                    .as_mut()
                    .ok_or("image policy without a renderer")?;
                let frames = renderer.render_batch(&scenes).map_err(|e| e.to_string())?;
                learned
                    .policy
                    .act_batch(PolicyObservations::Frames(&frames.pixels), &goals)
            }
        }
        .map_err(|e| e.to_string())?;
        for ((_, _, chosen), action) in items.iter_mut().zip(actions) {
            chosen.0 = Some(action);
        }
        Ok(())
    })();
    if let Err(e) = result {
        errors.0.get_or_insert(format!("policy: {e}"));
    }
}
