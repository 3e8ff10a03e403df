//! How the object-state head moves Meta-World's tracked values: its motion gate keeps values
//! that do not move exactly still, and still lets the moving ones move.

mod support;

use tch::Device;
use vlgor_sim::EnvKind;
use vlgor_vlm::world_model::{
    MOTION_THRESHOLD_M, RolloutPlan, WorldModel, WorldModelConfig, render_rollout_samples,
};

use support::{assert_object_loss_falls, changes_and_predictions, metaworld_tiny, renderer_px};

#[test]
fn motion_gate_keeps_still_values_exactly_still() {
    tch::set_num_threads(1);
    let plan = RolloutPlan {
        env: EnvKind::MetaWorld,
        episodes: 4,
        steps: 40,
        horizon_steps: 10,
        noise: 0.0,
        seed: 6,
    };
    let mut r = renderer_px(32);
    let mut data = render_rollout_samples(&mut r, &plan).unwrap();
    let threshold = MOTION_THRESHOLD_M as f32;
    let mut exact_zeros = Vec::new();
    for gate in [false, true] {
        tch::manual_seed(3);
        let cfg = WorldModelConfig {
            motion_gate: gate,
            ..metaworld_tiny()
        };
        let mut m = WorldModel::new(cfg, Device::Cpu).unwrap();
        let mut train_data = data.clone();
        assert_object_loss_falls(&mut m, &mut train_data, 80, 4, 0.5);
        let (truth, pred) = changes_and_predictions(&m, &mut data);
        let still: Vec<usize> = (0..truth.len())
            .filter(|&i| truth[i].abs() <= threshold)
            .collect();
        let moving = truth.len() - still.len();
        assert!(
            still.len() > 20 && moving > 20,
            "the keyframes should hold still and moving values: {} still, {moving} moving",
            still.len()
        );
        let zeros = still.iter().filter(|&&i| pred[i] == 0.0).count();
        let share = zeros as f64 / still.len() as f64;
        // The moving values still move: a gate that closes on everything is not a world model.
        let moved = (0..truth.len())
            .filter(|&i| truth[i].abs() > threshold && pred[i] != 0.0)
            .count();
        eprintln!(
            "gate {gate}: {zeros} of {} still values predicted exactly still; {moved} of \
             {moving} moving ones predicted to move",
            still.len()
        );
        if gate {
            assert!(
                moved as f64 > 0.8 * moving as f64,
                "{moved} of {moving} moved"
            );
        }
        exact_zeros.push(share);
    }
    assert_eq!(exact_zeros[0], 0.0, "a regression is never exactly zero");
    assert!(
        exact_zeros[1] > 0.8,
        "with the gate {:.0}% of the still values stay still",
        100.0 * exact_zeros[1]
    );
}
