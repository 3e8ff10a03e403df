//! The continuous-action critic Q(s, G, a) that SAC-based CQL and TD3+BC train in twin pairs.

use tch::Tensor;
use tch::nn;

use crate::network::{EncoderConfig, GoalConditionedEncoder, MlpHead};

/// A critic Q(s, G, a): the goal-conditioned encoder, the action concatenated to the joint
/// representation, then a two-layer MLP to one value.
pub struct Critic {
    pub encoder: GoalConditionedEncoder,
    head: MlpHead,
}

impl Critic {
    pub fn new(p: &nn::Path, enc: &EncoderConfig, dim: i64) -> Self {
        Critic {
            encoder: GoalConditionedEncoder::new(&(p / "encoder"), enc),
            head: MlpHead::new(&(p / "head"), enc.joint_dim + dim, enc.feature_dim, 1),
        }
    }

    /// Q-values `[B, n]` of actions `[B, n, dim]` from the joint representation `[B, J]`.
    pub fn values(&self, joint: &Tensor, actions: &Tensor) -> Tensor {
        let n = actions.size()[1];
        let j = joint.unsqueeze(1).expand([-1, n, -1], false);
        self.head
            .forward(&Tensor::cat(&[j, actions.shallow_clone()], 2))
            .squeeze_dim(2)
    }
}
