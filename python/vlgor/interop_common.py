"""Helpers shared by the Minari and LeRobot converters."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces


class InteropError(Exception):
    """A bad input (wrong directory, unsupported layout): `vlgor export/import` exit 2."""


def spaces_of(manifest: dict):
    """Observation space, action space and Gymnasium id (or None) of a vlgor manifest."""
    obs = spaces.Box(-np.inf, np.inf, shape=(manifest["obs_dim"],), dtype=np.float32)
    a = manifest["action_space"]
    if a["kind"] == "discrete":
        act: spaces.Space = spaces.Discrete(a["n"])
    else:
        act = spaces.Box(-1.0, 1.0, shape=(a["dim"],), dtype=np.float32)
    task = manifest["collection"].get("task")
    if manifest["env"] == "clevr":
        env_id = "vlgor/CLEVR-v0"
    elif task and task != "all":
        env_id = f"vlgor/MetaWorld-{task}-v0"
    else:
        env_id = None
    return obs, act, env_id


def episode_slices(data: dict):
    """Yields each episode of an `open_dataset` dict as its own arrays."""
    for e in data["episodes"]:
        r, t, n = e["first_row"], e["first_transition"], e["length"]
        states = data["states"]
        yield {
            "index": e["index"],
            "seed": e["seed"],
            "instruction": e["instruction"],
            "instruction_json": e["instruction_json"],
            "verdict": e["verdict"],
            "observations": data["observations"][r : r + n + 1],
            "states": states[r : r + n + 1] if len(states) else states,
            "actions": data["actions"][t : t + n],
            "rewards": data["rewards"][t : t + n],
            "success": data["success"][t : t + n],
            "terminals": data["terminals"][t : t + n],
            "timeouts": data["timeouts"][t : t + n],
            "frames": None if data["frames"] is None else data["frames"][r : r + n + 1],
        }
