//! The object-state head's predicted states scored without the readout (Meta-World).

use serde::{Deserialize, Serialize};
use vlgor_vlm::metrics::med;
use vlgor_vlm::perception::ReadoutKind;

/// Over whole rollouts, per perceived value the mean absolute error (m; the gripper opening in
/// its own units) of the model's predicted states against the true ones, and the MED of the
/// predicted main object without the readout (the head's frames are drawn from those states,
/// so its readout is exact by construction); for scale, the same for the start state held.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StateError {
    pub predicted: Vec<f64>,
    pub copy: Vec<f64>,
    pub med: f64,
    pub copy_med: f64,
    pub n: usize,
}

impl StateError {
    pub(super) fn add(
        &mut self,
        predicted: &[f32],
        start: &[f32],
        truth: &[f32],
        object: &[usize],
    ) {
        if self.predicted.is_empty() {
            self.predicted = vec![0.0; truth.len()];
            self.copy = vec![0.0; truth.len()];
        }
        for (i, t) in truth.iter().enumerate() {
            self.predicted[i] += f64::from((predicted[i] - t).abs());
            self.copy[i] += f64::from((start[i] - t).abs());
        }
        let bounds = ReadoutKind::MetaWorld.bounds();
        let pick = |v: &[f32]| object.iter().map(|&i| v[i]).collect::<Vec<f32>>();
        let bnds: Vec<(f32, f32)> = object.iter().map(|&i| bounds[i]).collect();
        self.med += med(&pick(predicted), &pick(truth), &bnds).unwrap_or(0.0);
        self.copy_med += med(&pick(start), &pick(truth), &bnds).unwrap_or(0.0);
        self.n += 1;
    }

    pub(super) fn mean(mut self) -> Option<StateError> {
        if self.n == 0 {
            return None;
        }
        let d = self.n as f64;
        self.predicted.iter_mut().for_each(|v| *v /= d);
        self.copy.iter_mut().for_each(|v| *v /= d);
        self.med /= d;
        self.copy_med /= d;
        Some(self)
    }
}
