//! Validator thresholds, per environment, calibrated on real expert rollouts (true states) and
//! on perceived states carrying ~1 cm of readout noise per coordinate (see the crate's
//! `tests/validate.rs` and the measurements in BENCHMARKS.md).

use serde::{Deserialize, Serialize};

use crate::EnvKind;

/// Height tolerance (m) of the floating check: on 300 real CLEVR and 100 real Meta-World expert
/// rollouts (true states) balls rest within 0.1 mm of table + radius and free objects not held
/// lie at most 1.7 mm above the table (`tests/validate_completeness.rs`, 0 false alarms);
/// 3 cm leaves room for contacts and perceived noise and stays under the 5 cm a lifted object
/// gets.
pub const HEIGHT_TOLERANCE_M: f32 = 0.03;
/// Reward tolerance of the label check: float noise only (rewards are recomputed by the same
/// functions on the same states).
pub const LABEL_REWARD_TOLERANCE: f32 = 1e-3;

/// Position error (m, per coordinate) the label check allows a perceived state: about three
/// standard deviations of the state readout's held-out error (0.023 m per ball, so ~0.018 m per
/// coordinate).
pub const PERCEIVED_LABEL_NOISE_M: f32 = 0.05;
/// Object patch PSNR of the frame check (dB): 6 dB under the whole frame's 18 dB, since an
/// object's edges are where an imagined frame errs most; two swapped CLEVR colours give well
/// under 10 dB.
pub const MIN_OBJECT_PSNR_DB: f32 = 12.0;

/// Thresholds of every check. Units: metres, env steps, dB.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidatorConfig {
    /// Allowed penetration (m) of two balls, of an object into the table, or of the object into
    /// a finger pad, before it counts as interpenetration.
    pub overlap_tolerance_m: f32,
    /// Allowed penetration (m) of a Meta-World free object (puck, mug) into a finger pad
    /// (object radius minus the distance from its axis to the pad, plus the depth inside the
    /// pad). Real grasps reach 0.016 m (soft contacts under the 40 N squeeze); readout noise of
    /// ~1 cm makes the check meaningless, so [`ValidatorConfig::for_env`] turns it off (1.0 m)
    /// and [`ValidatorConfig::for_true_states`] sets 0.02 m.
    pub gripper_tolerance_m: f32,
    /// Allowed height (m) of an unsupported object above its resting height (CLEVR: ball
    /// centre above table + radius; Meta-World: a free object's lowest point above the table
    /// top); also the slack of the ball-on-ball support test. Perceived Meta-World states
    /// carry no velocities, so an object dropped from the gripper and still in flight looks
    /// floating (2 of 30 real rollouts with 1 cm of readout noise): [`ValidatorConfig::for_env`]
    /// turns the check off there (1.0 m), [`ValidatorConfig::for_true_states`] sets
    /// [`HEIGHT_TOLERANCE_M`].
    pub height_tolerance_m: f32,
    /// Play (m) of the grasp test of the height check: how far the pads may stand off a
    /// Meta-World free object (along x, y, z and in their opening) and still hold it. True
    /// states: 0.01 (real grasps squeeze the pads into the object); perceived states: 0.03
    /// (three standard deviations of the ~1 cm readout noise).
    pub held_slack_m: f32,
    /// Allowed distance (m) beyond the walls (CLEVR) or the workspace box (Meta-World).
    pub workspace_margin_m: f32,
    /// Largest plausible displacement of any object per env step (m). A model step of `h` env
    /// steps allows `h` times this, plus [`ValidatorConfig::displacement_slack_m`].
    pub max_displacement_per_step_m: f32,
    /// Added to the teleport threshold once per transition: absorbs readout noise (m).
    pub displacement_slack_m: f32,
    /// Largest allowed position error (m) of an object between the replayed and the given
    /// s_{k+1} (full positions: CLEVR ball centre xyz; Meta-World object point xyz).
    pub replay_tolerance_m: f32,
    /// Largest allowed error (m) of the Meta-World hand in the replay; looser than the object's
    /// because a perceived state carries no hand velocity. Unused for CLEVR.
    pub replay_hand_tolerance_m: f32,
    /// Fraction of an object's displacement over the transition (the larger of the given and the
    /// replayed one) added to its replay tolerance: replaying from a perceived state (no
    /// velocities, ~1 cm noise on contacts) errs in proportion to the motion involved.
    pub replay_relative_tolerance: f32,
    /// Whether transitions' reward, success and terminal labels are recomputed from the goal
    /// and the states: true simulator states, and perceived CLEVR states (within
    /// [`Self::label_position_noise_m`]); not perceived Meta-World states, which lack the
    /// episode's progress (the task's stage, the path constraint).
    pub check_labels: bool,
    /// Position error (m, per coordinate) the label check allows each object in a state: 0 for
    /// true states; for perceived ones a label is consistent when some perturbation of the
    /// states within it (the unperturbed one included) reproduces it.
    pub label_position_noise_m: f32,
    /// Largest allowed difference between a stored and the recomputed reward.
    pub label_reward_tolerance: f32,
    /// Smallest PSNR (dB) between the frame and the render of its state in a small patch at
    /// each object's projected centre (CLEVR balls, the Meta-World object point): a frame
    /// whose objects have the wrong colours fails it even when the whole frame's PSNR passes.
    pub min_object_psnr_db: f32,
    /// Smallest PSNR (dB) between a frame and the render of its state.
    pub min_frame_psnr_db: f32,
    /// A frame whose PSNR against the previous state's render beats its own state's render by
    /// more than this (dB) is stale (a frozen frame).
    pub stale_frame_margin_db: f32,
}

impl ValidatorConfig {
    /// Defaults for `env`, for perceived states (read out of frames, ~1 cm noise per
    /// coordinate) and for true states alike.
    pub fn for_env(env: EnvKind) -> ValidatorConfig {
        match env {
            EnvKind::Clevr => ValidatorConfig {
                overlap_tolerance_m: 0.05,
                gripper_tolerance_m: 1.0,
                height_tolerance_m: HEIGHT_TOLERANCE_M,
                held_slack_m: 0.03,
                workspace_margin_m: 0.05,
                max_displacement_per_step_m: 0.45,
                displacement_slack_m: 0.05,
                replay_tolerance_m: 0.15,
                replay_hand_tolerance_m: 0.0,
                replay_relative_tolerance: 0.0,
                check_labels: true,
                label_position_noise_m: PERCEIVED_LABEL_NOISE_M,
                label_reward_tolerance: LABEL_REWARD_TOLERANCE,
                min_object_psnr_db: MIN_OBJECT_PSNR_DB,
                min_frame_psnr_db: 18.0,
                stale_frame_margin_db: 1.0,
            },
            EnvKind::MetaWorld => ValidatorConfig {
                overlap_tolerance_m: 0.04,
                gripper_tolerance_m: 1.0,
                height_tolerance_m: 1.0,
                held_slack_m: 0.03,
                workspace_margin_m: 0.05,
                max_displacement_per_step_m: 0.03,
                displacement_slack_m: 0.06,
                replay_tolerance_m: 0.10,
                replay_hand_tolerance_m: 0.10,
                replay_relative_tolerance: 0.5,
                check_labels: false,
                label_position_noise_m: PERCEIVED_LABEL_NOISE_M,
                label_reward_tolerance: LABEL_REWARD_TOLERANCE,
                min_object_psnr_db: MIN_OBJECT_PSNR_DB,
                min_frame_psnr_db: 18.0,
                stale_frame_margin_db: 1.0,
            },
        }
    }

    /// Tighter defaults for ground-truth simulator states (real datasets): the replay of a true
    /// state is exact, so its tolerance drops to 2 cm with no motion allowance, and the
    /// Meta-World finger check is on (0.02 m).
    pub fn for_true_states(env: EnvKind) -> ValidatorConfig {
        let mut cfg = Self::for_env(env);
        cfg.replay_tolerance_m = 0.02;
        cfg.replay_relative_tolerance = 0.0;
        cfg.check_labels = true;
        cfg.label_position_noise_m = 0.0;
        cfg.held_slack_m = 0.01;
        cfg.height_tolerance_m = HEIGHT_TOLERANCE_M;
        if env == EnvKind::MetaWorld {
            cfg.replay_hand_tolerance_m = 0.02;
            cfg.gripper_tolerance_m = 0.02;
        }
        cfg
    }

    /// Smallest displacement (m) of an otherwise still object that the replay check flags for
    /// sure: the tolerance with its motion allowance, plus a quarter.
    pub fn replay_detectable_m(&self) -> f32 {
        1.25 * self.replay_tolerance_m / (1.0 - self.replay_relative_tolerance.min(0.8))
    }

    /// Largest plausible displacement (m) over one transition of `steps_per_action` env steps.
    pub fn teleport_threshold(&self, steps_per_action: usize) -> f32 {
        self.max_displacement_per_step_m * steps_per_action.max(1) as f32
            + self.displacement_slack_m
    }

    /// Checks that every threshold is finite and non-negative; names the bad field.
    pub fn validate(&self) -> Result<(), String> {
        let fields = [
            ("overlap_tolerance_m", self.overlap_tolerance_m),
            ("gripper_tolerance_m", self.gripper_tolerance_m),
            ("height_tolerance_m", self.height_tolerance_m),
            ("held_slack_m", self.held_slack_m),
            ("workspace_margin_m", self.workspace_margin_m),
            (
                "max_displacement_per_step_m",
                self.max_displacement_per_step_m,
            ),
            ("displacement_slack_m", self.displacement_slack_m),
            ("replay_tolerance_m", self.replay_tolerance_m),
            ("replay_hand_tolerance_m", self.replay_hand_tolerance_m),
            ("replay_relative_tolerance", self.replay_relative_tolerance),
            ("label_reward_tolerance", self.label_reward_tolerance),
            ("label_position_noise_m", self.label_position_noise_m),
            ("min_object_psnr_db", self.min_object_psnr_db),
            ("min_frame_psnr_db", self.min_frame_psnr_db),
            ("stale_frame_margin_db", self.stale_frame_margin_db),
        ];
        match fields.iter().find(|(_, v)| !(v.is_finite() && *v >= 0.0)) {
            Some((name, v)) => Err(format!(
                "validator {name} = {v}: must be a finite, non-negative number"
            )),
            None => Ok(()),
        }
    }
}
