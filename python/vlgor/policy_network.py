"""The paper's policy network (vlgor_rl's `network.rs` and each algorithm's acting head) in
PyTorch, for `vlgor export-policy`. Imported only by `vlgor.torchscript`'s export, so the wheel
itself needs no torch.

Every layer is the libtorch operation vlgor's tch network runs (`aten::linear`, `layer_norm`
with eps 1e-5, `conv2d` without padding, `relu`, `cat`, `tanh`, `narrow`), in the same order
and on tensors of the same memory layout, so a scripted module returns the same bits as the
checkpoint on the same libtorch.

`forward(obs, goal)`: `obs` states `[N, D]` f32 (raw; normalised inside with the run's
statistics) or frames `[N, 3, H, W]` u8; `goal` `[N, 384]` f32; returns logits / Q-values
`[N, n]` (discrete) or actions `[N, dim]` in (-1, 1) (continuous).
"""

# No `from __future__ import annotations`: TorchScript reads the class annotations as types.
import torch
from torch import nn

LAYER_NORM_EPS = 1e-5


class TextMlp(nn.Module):
    """Linear(goal_dim → hidden), ReLU, Linear(hidden → feature), LayerNorm."""

    def __init__(self, goal_dim: int, hidden: int, feature: int):
        super().__init__()
        self.fc1 = nn.Linear(goal_dim, hidden)
        self.fc2 = nn.Linear(hidden, feature)
        self.norm = nn.LayerNorm(feature, eps=LAYER_NORM_EPS)

    def forward(self, goal: torch.Tensor) -> torch.Tensor:
        return self.norm(self.fc2(torch.relu(self.fc1(goal))))


class StateEncoder(nn.Module):
    """Linear(D → feature), LayerNorm, on `(x − mean) / std`."""

    def __init__(self, dim: int, feature: int, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.fc = nn.Linear(dim, feature)
        self.norm = nn.LayerNorm(feature, eps=LAYER_NORM_EPS)
        self.register_buffer("obs_mean", mean)
        self.register_buffer("obs_std", std)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        x = (states.to(torch.float32) - self.obs_mean) / self.obs_std
        return self.norm(self.fc(x))


def conv_output_side(side: int) -> int:
    a = (side - 8) // 4 + 1
    b = (a - 4) // 2 + 1
    return b - 2


class ImageEncoder(nn.Module):
    """Conv(3→32, k8 s4), Conv(32→64, k4 s2), Conv(64→64, k3 s1), ReLU after each, flatten,
    Linear → feature, LayerNorm. Pixels scaled to [0, 1]."""

    def __init__(self, height: int, width: int, feature: int):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 8, stride=4)
        self.conv2 = nn.Conv2d(32, 64, 4, stride=2)
        self.conv3 = nn.Conv2d(64, 64, 3, stride=1)
        self.fc = nn.Linear(64 * conv_output_side(height) * conv_output_side(width), feature)
        self.norm = nn.LayerNorm(feature, eps=LAYER_NORM_EPS)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        # vlgor feeds its own network [N, H, W, 3] bytes and permutes after the cast: the same
        # layout here (channels last in memory), whatever the strides of the input.
        x = frames.permute(0, 2, 3, 1).contiguous().to(torch.float32).permute(0, 3, 1, 2) / 255.0
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        x = torch.relu(self.conv3(x)).flatten(1, -1)
        return self.norm(self.fc(x))


class GoalConditionedEncoder(nn.Module):
    """Text and observation branches fused: ReLU(Linear(cat(text, obs)) → joint). The
    observation branch is `obs` here; the checkpoint names it `state` or `image`."""

    def __init__(self, text: TextMlp, obs: nn.Module, feature: int, joint: int):
        super().__init__()
        self.text = text
        self.obs = obs
        self.fusion = nn.Linear(2 * feature, joint)

    def forward(self, obs: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        t = self.text(goal)
        s = self.obs(obs)
        return torch.relu(self.fusion(torch.cat([t, s], 1)))


class PolicyNetwork(nn.Module):
    """Encoder, linear head and the algorithm's greedy output: `raw` (discrete logits or
    Q-values), `tanh` (deterministic continuous actors), `tanh_mean` (Gaussian heads: the tanh
    of the first `action_dim` outputs)."""

    squash: str
    action_dim: int

    def __init__(self, encoder: nn.Module, joint: int, outputs: int, squash: str, action_dim: int):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(joint, outputs)
        self.squash = squash
        self.action_dim = action_dim

    def forward(self, obs: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        out = self.head(self.encoder(obs, goal))
        if self.squash == "tanh":
            return out.tanh()
        if self.squash == "tanh_mean":
            return out.narrow(1, 0, self.action_dim).tanh()
        return out


def build(run: dict) -> tuple[PolicyNetwork, str]:
    """The acting network of a checkpoint's run record and the prefix of its weights in the
    checkpoint (`model.` for BC, `model.q.` for discrete CQL, `model.actor.` for continuous CQL
    and TD3+BC)."""
    rl = run["rl"]
    goal_dim, hidden = int(run["goal_dim"]), int(rl["text_hidden"])
    feature, joint = int(rl["feature_dim"]), int(rl["joint_dim"])
    text = TextMlp(goal_dim, hidden, feature)
    obs = run["obs"]
    if obs["kind"] == "state":
        dim = int(obs["dim"])
        mean = torch.tensor(run["obs_mean"], dtype=torch.float32)
        std = torch.tensor(run["obs_std"], dtype=torch.float32)
        if mean.shape != (dim,) or std.shape != (dim,):
            raise ValueError(f"obs_mean/obs_std hold {tuple(mean.shape)}/{tuple(std.shape)} "
                             f"values for a {dim}-d state")
        branch: nn.Module = StateEncoder(dim, feature, mean, std)
    elif obs["kind"] == "image":
        branch = ImageEncoder(int(obs["height"]), int(obs["width"]), feature)
    else:
        raise ValueError(f"unknown observation kind {obs['kind']!r}")
    encoder = GoalConditionedEncoder(text, branch, feature, joint)
    space, algo = run["action_space"], run["algo"]
    if space["kind"] == "discrete":
        n = int(space["n"])
        prefix = {"bc": "model.", "cql": "model.q."}.get(algo)
        net = PolicyNetwork(encoder, joint, n, "raw", n)
    elif space["kind"] == "continuous":
        dim = int(space["dim"])
        if algo == "bc":
            gaussian = rl.get("bc_loss", "deterministic") == "gaussian"
            prefix = "model."
            net = PolicyNetwork(encoder, joint, 2 * dim if gaussian else dim,
                                "tanh_mean" if gaussian else "tanh", dim)
        elif algo == "cql":
            prefix = "model.actor."
            net = PolicyNetwork(encoder, joint, 2 * dim, "tanh_mean", dim)
        elif algo == "td3_plus_bc":
            prefix = "model.actor."
            net = PolicyNetwork(encoder, joint, dim, "tanh", dim)
        else:
            prefix = None
    else:
        raise ValueError(f"unknown action space {space['kind']!r}")
    if prefix is None:
        raise ValueError(f"algorithm {algo!r} does not act on a {space['kind']} action space")
    return net, prefix


def load_weights(net: PolicyNetwork, prefix: str, tensors: dict[str, torch.Tensor]) -> None:
    """Copies `prefix + name` of `tensors` into every parameter of `net`; errors name a missing
    or mis-shaped one."""
    branch = "state" if isinstance(net.encoder.obs, StateEncoder) else "image"
    state = {}
    for name, p in net.named_parameters():
        key = prefix + name.replace("encoder.obs.", f"encoder.{branch}.", 1)
        if key not in tensors:
            raise ValueError(f"checkpoint has no tensor {key!r}")
        t = tensors[key]
        if tuple(t.shape) != tuple(p.shape):
            raise ValueError(f"tensor {key!r} has shape {tuple(t.shape)}, the network needs "
                             f"{tuple(p.shape)}")
        state[name] = t
    missing, unexpected = net.load_state_dict(state, strict=False)
    buffers = {n for n, _ in net.named_buffers()}
    if unexpected or set(missing) - buffers:
        raise ValueError(f"weights do not fit the network: missing {missing}, extra {unexpected}")


def script(run: dict, tensors: dict[str, torch.Tensor]) -> torch.jit.ScriptModule:
    """The checkpoint's acting network as a scripted module, in eval mode."""
    net, prefix = build(run)
    load_weights(net, prefix, tensors)
    net.eval()
    return torch.jit.script(net)
