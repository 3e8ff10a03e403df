//! The object-state head's predicted states scored without the readout (Meta-World).

use serde::{Deserialize, Serialize};
use vlgor_vlm::perception::ReadoutKind;

use super::object_med;

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
        self.med += object_med(ReadoutKind::MetaWorld, predicted, truth, object);
        self.copy_med += object_med(ReadoutKind::MetaWorld, start, truth, object);
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
