//! [`WorldModel`]: the compact vision-language world model.
//!
//! Packed sequence per sample (one self-attention over all of it):
//! `[text tokens (T) | action token | image tokens (P) | action query | frame queries (P)]`.
//! Understanding tokens are everything up to the action query; the P frame queries are the
//! generation tokens. The direct visual head maps each frame query to the *change* of its patch
//! (zero-initialised, so a fresh model predicts "nothing moves"); the action head reads the
//! action query. Frames are float [B, 3, H, W] in [0, 1].
//!
//! With the object-state head the P frame queries are replaced by K object queries (one learned
//! query per tracked object plus the embedding of its current position), each read out as the object's (x, y) in s_t and its displacement
//! to s_{t+h} (metres; the displacement zero-initialised).

use tch::nn::{self, Init, LayerNorm, Linear, VarStore};
use tch::{Device, Kind, Tensor};
use vlgor_sim::Action;

use super::blocks::{Block, linear};
use super::config::{ActionSpace, VisualHead, WorldModelConfig};
use super::error::WorldModelError;
use super::lora::LoraLinear;
use super::transform::TransformHead;

/// Variable-name prefixes: the frozen-in-LoRA backbone, the two prediction heads, the adapters.
pub const BACKBONE: &str = "backbone";
pub const HEADS: &str = "heads";
pub const LORA: &str = "lora";

/// Which parameters a training stage updates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Backbone + heads (adapters stay at their identity init).
    Base,
    /// LoRA adapters + the two heads; the backbone is frozen.
    Lora,
}

impl std::str::FromStr for Stage {
    type Err = WorldModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "base" => Ok(Stage::Base),
            "lora" => Ok(Stage::Lora),
            o => Err(WorldModelError::BadInput(format!(
                "unknown stage '{o}'; valid: base, lora"
            ))),
        }
    }
}

/// The previous action a_t as model input: `None` is the learned "no action" token (first step).
#[derive(Debug)]
pub enum ActionInput {
    /// i64 [B]; value n (the number of actions) means "no action".
    Discrete(Tensor),
    /// values f32 [B, dim]; present f32 [B] (1 = given, 0 = no action).
    Continuous { values: Tensor, present: Tensor },
}

impl ActionInput {
    /// Packs actions of the model's action space; errors name the mismatching entry.
    pub fn from_actions(
        space: ActionSpace,
        actions: &[Option<Action>],
        device: Device,
    ) -> Result<Self, WorldModelError> {
        match space {
            ActionSpace::Discrete { n } => {
                let mut ids = Vec::with_capacity(actions.len());
                for (i, a) in actions.iter().enumerate() {
                    ids.push(match a {
                        None => n as i64,
                        Some(Action::Discrete(k)) if (*k as usize) < n => *k as i64,
                        Some(other) => return Err(bad_action(i, other, space)),
                    });
                }
                Ok(ActionInput::Discrete(
                    Tensor::from_slice(&ids).to_device(device),
                ))
            }
            ActionSpace::Continuous { dim } => {
                let mut vals = vec![0f32; actions.len() * dim];
                let mut present = vec![0f32; actions.len()];
                for (i, a) in actions.iter().enumerate() {
                    match a {
                        None => {}
                        Some(Action::Continuous(v)) if dim <= v.len() => {
                            vals[i * dim..(i + 1) * dim].copy_from_slice(&v[..dim]);
                            present[i] = 1.0;
                        }
                        Some(other) => return Err(bad_action(i, other, space)),
                    }
                }
                Ok(ActionInput::Continuous {
                    values: Tensor::from_slice(&vals)
                        .view([actions.len() as i64, dim as i64])
                        .to_device(device),
                    present: Tensor::from_slice(&present).to_device(device),
                })
            }
        }
    }
}

fn bad_action(i: usize, a: &Action, space: ActionSpace) -> WorldModelError {
    WorldModelError::BadInput(format!(
        "action {i} is {a:?}, but the model's action space is {space:?}"
    ))
}

/// One model step's inputs.
pub struct StepInput<'a> {
    /// f32 [B, 3, H, W] in [0, 1].
    pub frames: &'a Tensor,
    /// Frozen encoder token embeddings f32 [B, T, text_dim].
    pub text: &'a Tensor,
    /// [B, T], nonzero = real token.
    pub text_mask: &'a Tensor,
    pub actions: &'a ActionInput,
    /// Object-state head: the tracked objects in s_t, f32 [B, K, D] metres (the real
    /// state at the start of a rollout, then the imagined one); `None` for the other heads.
    pub objects: Option<&'a Tensor>,
}

/// The object-state head's outputs are in units of this many metres (keeps them near 1).
pub const OBJECT_UNIT_M: f64 = 0.1;

/// One model step's predictions.
#[derive(Debug)]
pub struct StepOutput {
    /// Predicted frame h steps ahead, f32 [B, 3, H, W] (input + predicted change, unclamped).
    /// The object-state head returns the input frame here: its s_{t+h} is drawn from `objects`.
    pub frames: Tensor,
    /// Object-state head only: f32 [B, K, 2D] per tracked object its D values in s_t and their
    /// changes to s_{t+h}, metres.
    pub objects: Option<Tensor>,
    /// CLEVR: logits [B, n]; Meta-World: the action vector [B, dim].
    pub action: Tensor,
    /// Object-state head with the motion gate only: what the gate and the displacement it
    /// opens were, for the losses (`objects` holds the gated displacement).
    pub motion: Option<ObjectMotion>,
}

/// The object-state head's motion gate on one batch ([`WorldModelConfig::motion_gate`]).
#[derive(Debug)]
pub struct ObjectMotion {
    /// f32 [B, K, D]: the logit that each tracked value moves over the step.
    pub logits: Tensor,
    /// f32 [B, K, D]: its displacement should it move (m), ungated.
    pub displacement: Tensor,
}

enum ActionEmbed {
    Discrete(Tensor),
    Continuous { proj: Linear, none: Tensor },
}

/// The world model. All parameters live in one [`VarStore`] under the prefixes
/// [`BACKBONE`], [`HEADS`] and [`LORA`].
pub struct WorldModel {
    pub(crate) vs: VarStore,
    config: WorldModelConfig,
    patch_embed: Linear,
    image_pos: Tensor,
    text_proj: Linear,
    text_pos: Tensor,
    action_embed: ActionEmbed,
    /// [5, d]: text, action, image, action query, frame query.
    type_embed: Tensor,
    action_query: Tensor,
    blocks: Vec<Block>,
    ln_und: LayerNorm,
    ln_gen: LayerNorm,
    /// Direct head: frame query -> patch change.
    frame_head: Option<Linear>,
    /// Object-state head: the K object queries [1, K, d], the embedding of each object's
    /// current (x, y) added to its query, and query -> (x, y, dx, dy).
    object_queries: Option<Tensor>,
    object_in: Option<Linear>,
    object_head: Option<Linear>,
    /// Transformation head: transform queries and the translation / mask / residual read-outs.
    transform: Option<TransformHead>,
    action_head: Linear,
}

impl WorldModel {
    /// A freshly initialised model on `device` (seed with `tch::manual_seed` first).
    pub fn new(config: WorldModelConfig, device: Device) -> Result<Self, WorldModelError> {
        config.validate()?;
        let vs = VarStore::new(device);
        let root = vs.root();
        let (bb, hd, lo) = (&root / BACKBONE, &root / HEADS, &root / LORA);
        let d = config.width;
        let p = config.num_patches();
        let small = Init::Randn {
            mean: 0.0,
            stdev: 0.02,
        };
        let action_embed = match config.action_space {
            ActionSpace::Discrete { n } => {
                ActionEmbed::Discrete(bb.var("action_embed", &[n as i64 + 1, d], small))
            }
            ActionSpace::Continuous { dim } => ActionEmbed::Continuous {
                proj: linear(&bb / "action_proj", dim as i64, d),
                none: bb.var("action_none", &[d], small),
            },
        };
        let blocks = (0..config.layers)
            .map(|i| Block::new(&bb / "blocks" / i, &lo / "blocks" / i, &config))
            .collect();
        let zero = nn::LinearConfig {
            ws_init: Init::Const(0.0),
            bs_init: Some(Init::Const(0.0)),
            bias: true,
        };
        let objects = config.visual_head == VisualHead::ObjectState;
        let transform = (config.visual_head == VisualHead::Transform)
            .then(|| TransformHead::new(&bb, &hd, d, config.patch_size));
        let frame_head = (config.visual_head == VisualHead::Direct)
            .then(|| nn::linear(&hd / "frame", d, config.patch_dim(), zero));
        let object_queries =
            objects.then(|| bb.var("object_queries", &[1, config.objects, d], small));
        let od = config.object_dim;
        let object_in = objects.then(|| linear(&bb / "object_in", od, d));
        // Displacements start from zero (the first D outputs are unused).
        let object_head = objects.then(|| {
            let head = linear(&hd / "object", d, 2 * od);
            tch::no_grad(|| {
                let _ = head.ws.narrow(0, od, od).zero_();
            });
            head
        });
        Ok(WorldModel {
            patch_embed: linear(&bb / "patch_embed", config.patch_dim(), d),
            image_pos: bb.var("image_pos", &[1, p, d], small),
            text_proj: linear(&bb / "text_proj", config.text_dim, d),
            text_pos: bb.var("text_pos", &[1, config.max_text_tokens, d], small),
            action_embed,
            type_embed: bb.var("type_embed", &[5, d], small),
            action_query: bb.var("action_query", &[1, 1, d], small),
            blocks,
            ln_und: nn::layer_norm(&bb / "ln_und", vec![d], Default::default()),
            ln_gen: nn::layer_norm(&bb / "ln_gen", vec![d], Default::default()),
            frame_head,
            object_queries,
            object_in,
            object_head,
            transform,
            action_head: linear(&hd / "action", d, config.action_space.head_dim()),
            config,
            vs,
        })
    }

    pub fn config(&self) -> &WorldModelConfig {
        &self.config
    }

    pub fn device(&self) -> Device {
        self.vs.device()
    }

    pub fn var_store(&self) -> &VarStore {
        &self.vs
    }

    /// Parameter count (elements) of the variables whose name starts with `prefix` ("" = all).
    pub fn parameter_count(&self, prefix: &str) -> i64 {
        self.vs
            .variables()
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, t)| t.numel() as i64)
            .sum()
    }

    /// [B, 3, H, W] -> [B, P, patch*patch*3].
    pub fn patchify(&self, x: &Tensor) -> Tensor {
        let (ps, g) = (self.config.patch_size, self.config.grid());
        let b = x.size()[0];
        x.view([b, 3, g, ps, g, ps])
            .permute([0, 2, 4, 3, 5, 1])
            .reshape([b, g * g, ps * ps * 3])
    }

    /// Inverse of [`WorldModel::patchify`].
    pub fn unpatchify(&self, x: &Tensor) -> Tensor {
        let (ps, g) = (self.config.patch_size, self.config.grid());
        let b = x.size()[0];
        x.view([b, g, g, ps, ps, 3])
            .permute([0, 5, 1, 3, 2, 4])
            .reshape([b, 3, g * ps, g * ps])
    }

    fn check_input(&self, s: &StepInput) -> Result<(i64, i64), WorldModelError> {
        let c = &self.config;
        let fs = s.frames.size();
        if fs.len() != 4 || fs[1] != 3 || fs[2] != c.image_size || fs[3] != c.image_size {
            return Err(WorldModelError::BadInput(format!(
                "frames have shape {fs:?}; expected [B, 3, {0}, {0}]",
                c.image_size
            )));
        }
        let ts = s.text.size();
        if ts.len() != 3 || ts[0] != fs[0] || ts[2] != c.text_dim || s.text_mask.size() != ts[..2] {
            return Err(WorldModelError::BadInput(format!(
                "text {ts:?} / mask {:?} do not match [B={}, T, {}] / [B, T]",
                s.text_mask.size(),
                fs[0],
                c.text_dim
            )));
        }
        Ok((fs[0], ts[1].min(c.max_text_tokens)))
    }

    /// One prediction step: (s_t, G, a_t) -> (s_{t+h}, a_{t+h}).
    pub fn forward(&self, s: &StepInput) -> Result<StepOutput, WorldModelError> {
        let (b, t) = self.check_input(s)?;
        let d = self.config.width;
        let p = self.config.num_patches();
        let ty = |i: i64| self.type_embed.get(i).view([1, 1, d]);
        let text =
            s.text.narrow(1, 0, t).apply(&self.text_proj) + self.text_pos.narrow(1, 0, t) + ty(0);
        let act = match (&self.action_embed, s.actions) {
            (ActionEmbed::Discrete(table), ActionInput::Discrete(ids)) => {
                table.index_select(0, ids)
            }
            (
                ActionEmbed::Continuous { proj, none },
                ActionInput::Continuous { values, present },
            ) => {
                let w = present.view([b, 1]);
                values.apply(proj) * &w + none.view([1, d]) * (w.ones_like() - &w)
            }
            _ => {
                return Err(WorldModelError::BadInput(format!(
                    "action input kind does not match the model's {:?}",
                    self.config.action_space
                )));
            }
        };
        if act.size()[0] != b {
            return Err(WorldModelError::BadInput(format!(
                "{} actions for {b} frames",
                act.size()[0]
            )));
        }
        let act = act.view([b, 1, d]) + ty(1);
        let patches = self.patchify(s.frames).apply(&self.patch_embed) + &self.image_pos;
        let image = &patches + ty(2);
        let aq = self.action_query.expand([b, 1, d], false) + ty(3);
        let queries = match (&self.object_queries, &self.object_in, &self.transform) {
            (Some(q), Some(embed), _) => {
                let (k, od) = (self.config.objects, self.config.object_dim);
                let now = s.objects.ok_or_else(|| {
                    WorldModelError::BadInput(
                        "the object_state head needs the objects' current positions".into(),
                    )
                })?;
                if now.size() != [b, k, od] {
                    return Err(WorldModelError::BadInput(format!(
                        "object positions have shape {:?}; expected [{b}, {k}, {od}]",
                        now.size()
                    )));
                }
                // Every object query also carries the action: its displacement is mostly a
                // lookup of (object, push).
                q.expand([b, k, d], false) + (now / OBJECT_UNIT_M).apply(embed) + &act + ty(4)
            }
            (_, _, Some(t)) => {
                Tensor::cat(&[&patches, &t.queries.expand([b, -1, d], false)], 1) + ty(4)
            }
            _ => &patches + ty(4),
        };
        let n_gen = queries.size()[1];
        let x = Tensor::cat(&[text, act, image, aq, queries], 1);
        let mask = s.text_mask.narrow(1, 0, t).ne(0);
        let rest = Tensor::ones([b, 2 + p + n_gen], (Kind::Bool, self.device()));
        let attend = Tensor::cat(&[mask, rest], 1).view([b, 1, 1, t + 2 + p + n_gen]);
        let mut x = x;
        for block in &self.blocks {
            x = block.forward(&x, &attend, n_gen);
        }
        let und_len = t + 2 + p;
        let act_tok = x
            .narrow(1, und_len - 1, 1)
            .squeeze_dim(1)
            .apply(&self.ln_und);
        let generated = x.narrow(1, und_len, n_gen).apply(&self.ln_gen);
        let action = act_tok.apply(&self.action_head);
        if let (Some(head), Some(now)) = (&self.object_head, s.objects) {
            // s_t's positions are the input itself; the head predicts the displacement, and
            // with the motion gate its first D outputs are the logits that each value moves
            // (without it they are unused, kept for checkpoint compatibility).
            let od = self.config.object_dim;
            let out = generated.apply(head);
            let displacement = out.narrow(2, od, od) * OBJECT_UNIT_M;
            let (moved, motion) = if self.config.motion_gate {
                let logits = out.narrow(2, 0, od);
                let open = logits.gt(0.0).to_kind(displacement.kind());
                let moved = &displacement * open;
                (
                    moved,
                    Some(ObjectMotion {
                        logits,
                        displacement,
                    }),
                )
            } else {
                (displacement, None)
            };
            return Ok(StepOutput {
                frames: s.frames.shallow_clone(),
                objects: Some(Tensor::cat(&[now, &moved], 2)),
                action,
                motion,
            });
        }
        let frames = match (&self.transform, &self.frame_head) {
            (Some(t), _) => t.forward(
                s.frames,
                &generated.narrow(1, 0, p),
                &generated.narrow(1, p, n_gen - p),
            ),
            (None, Some(head)) => s.frames + self.unpatchify(&generated.apply(head)),
            (None, None) => {
                return Err(WorldModelError::BadInput(
                    "the model has no visual head".into(),
                ));
            }
        };
        Ok(StepOutput {
            frames,
            objects: None,
            action,
            motion: None,
        })
    }

    /// All LoRA-wrapped projections (q, k, v, o of every layer and expert).
    pub fn lora_layers_mut(&mut self) -> Vec<&mut LoraLinear> {
        self.blocks
            .iter_mut()
            .flat_map(|b| b.lora_layers_mut())
            .collect()
    }

    /// Folds every adapter into its base weight (inference).
    pub fn merge_lora(&mut self) {
        self.lora_layers_mut()
            .into_iter()
            .for_each(LoraLinear::merge);
    }

    /// Undoes [`WorldModel::merge_lora`].
    pub fn unmerge_lora(&mut self) {
        self.lora_layers_mut()
            .into_iter()
            .for_each(LoraLinear::unmerge);
    }

    /// Whether the adapters are currently merged.
    pub fn is_merged(&mut self) -> bool {
        self.lora_layers_mut()
            .first()
            .is_some_and(|l| l.is_merged())
    }

    /// Names trained in `stage`.
    pub fn is_trainable(stage: Stage, name: &str) -> bool {
        match stage {
            Stage::Base => !name.starts_with(LORA),
            Stage::Lora => name.starts_with(LORA) || name.starts_with(HEADS),
        }
    }

    /// Sets requires_grad per `stage` and returns the trainable tensors (sorted by name, so the
    /// optimizer is deterministic).
    pub fn set_stage(&mut self, stage: Stage) -> Vec<(String, Tensor)> {
        let mut vars: Vec<(String, Tensor)> = self.vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = Vec::new();
        for (name, t) in vars {
            let train = Self::is_trainable(stage, &name);
            let _ = t.set_requires_grad(train);
            if train {
                out.push((name, t));
            }
        }
        out
    }
}
