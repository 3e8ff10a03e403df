"""Gymnasium environments over vlgor's Rust simulators.

Episodes are seeded like ``vlgor eval``'s: ``reset(seed=s)`` starts the episode whose seed is
``s`` (the instruction is sampled from it, the initial state drawn from it, and the scripted
policies' random choices come from it), so ``reset(seed=vlgor.episode_seed(eval_seed, level,
i))`` meets episode ``i`` of ``vlgor eval --seeds eval_seed --level level``. Without a seed, the
episode seed is drawn from the environment's ``np_random``.

An episode terminates at success (as in ``vlgor eval``), at a task terminal, or after the one
push that decides a step-level goal (CLEVR directional goals, KALM's step level), and is
truncated at the simulator's horizon otherwise (CLEVR: 50 pushes; Meta-World: its horizon).
``info`` holds ``instruction`` (text), ``goal`` (the machine-checkable goal spec, a dict),
``level``, ``episode_seed``, ``steps`` and ``success`` (the goal holds after this step).
"""

from __future__ import annotations

import json
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from vlgor._vlgor import SimBatch, metaworld_tasks

FRAME_SHAPE = (128, 128, 3)
_SEED_LIMIT = 2**63


def _spaces(batch: SimBatch) -> tuple[spaces.Space, spaces.Space]:
    obs = spaces.Box(-np.inf, np.inf, shape=(batch.obs_dim,), dtype=np.float32)
    if batch.num_actions:
        act: spaces.Space = spaces.Discrete(batch.num_actions)
    else:
        act = spaces.Box(-1.0, 1.0, shape=(4,), dtype=np.float32)
    return obs, act


def _info(row: tuple, success: bool) -> dict[str, Any]:
    text, goal, level, seed, steps = row
    return {
        "instruction": text,
        "goal": json.loads(goal),
        "level": level,
        "episode_seed": seed,
        "steps": steps,
        "success": bool(success),
    }


def _step(batch: SimBatch, actions: Any, autoreset: bool):
    if batch.num_actions:
        a = np.asarray(actions)
        if a.dtype.kind not in "iu":
            raise ValueError(f"CLEVR actions are integers in 0..40, got dtype {a.dtype}")
        return batch.step_discrete(np.ascontiguousarray(a.reshape(-1), dtype=np.int64), autoreset)
    a = np.ascontiguousarray(actions, dtype=np.float32).reshape(-1, 4)
    return batch.step_continuous(a, autoreset)


class VlgorEnv(gymnasium.Env):
    """One vlgor simulator: ``env="clevr"``, or ``env="metaworld"`` with ``task=``.

    Observation: CLEVR the ten ball x/y values (m), Meta-World the 39-d Sawyer vector, both
    float32. Action: CLEVR ``Discrete(40)`` (ball * 8 + direction), Meta-World
    ``Box(-1, 1, (4,))`` (dx, dy, dz, grip). ``level`` (seen, rephrase, counterfactual,
    unseen-relation (CLEVR only), hard) picks the instructions; ``reset(options={"level":
    ...})`` changes it for later episodes. ``render()`` gives the 128x128x3 uint8 frame of the
    default camera (``render_mode="rgb_array"``).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self,
        env: str = "clevr",
        task: str | None = None,
        level: str = "seen",
        render_mode: str | None = None,
    ):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode {render_mode!r}: only 'rgb_array' is supported")
        self._batch = SimBatch(env, task, level, 1)
        self.level = level
        self.render_mode = render_mode
        self.observation_space, self.action_space = _spaces(self._batch)
        self._started = False

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if options and "level" in options:
            self.level = str(options["level"])
        episode = int(seed) if seed is not None else int(self.np_random.integers(0, _SEED_LIMIT))
        if not 0 <= episode < 2**64:
            raise ValueError(f"seed {seed} is outside 0..2**64")
        obs = self._batch.reset([episode], self.level)
        self._started = True
        return obs[0], _info(self._batch.infos()[0], False)

    def step(self, action):
        if not self._started:
            raise gymnasium.error.ResetNeeded("call reset before step")
        obs, reward, term, trunc, success, _ = _step(self._batch, action, False)
        info = _info(self._batch.infos()[0], success[0])
        return obs[0], float(reward[0]), bool(term[0]), bool(trunc[0]), info

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        return self._batch.render()[0]

    def expert_action(self, noise: float = 0.0):
        """The scripted expert's action for the current state (with probability ``noise`` a
        random one, from the episode's own action stream, as ``vlgor eval --policy expert``)."""
        a = self._batch.expert_actions(noise)
        return int(a[0]) if self._batch.num_actions else a[0]

    def random_action(self):
        """A uniformly random action from the episode's action stream (``--policy random``)."""
        a = self._batch.random_actions()
        return int(a[0]) if self._batch.num_actions else a[0]

    @property
    def horizon(self) -> int:
        """Steps the current episode may take."""
        return self._batch.horizons()[0]

    def state(self) -> np.ndarray:
        """The full physical and episode state (the dataset's ``states`` row)."""
        return self._batch.state(0)


class VlgorVectorEnv(VectorEnv):
    """``num_envs`` vlgor simulators in one Rust batch: one call steps (in parallel, GIL
    released) or renders them all. Gymnasium's next-step auto-reset: the step after an episode
    ends resets that env (reward 0, not terminated) and returns its first observation; the new
    episode's seed is drawn from the finished episode's action stream.

    ``reset(seed=s)`` seeds env i with episode seed ``s + i`` (a list gives one seed per env).
    Infos hold ``instruction``, ``level``, ``episode_seed``, ``steps`` and ``success`` per env;
    ``goal`` (the parsed goal spec) only for the envs whose episode started in that call.
    ``render()`` returns all frames as one ``[num_envs, 128, 128, 3]`` uint8 array.
    """

    metadata = {
        "render_modes": ["rgb_array"],
        "render_fps": 10,
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }

    def __init__(
        self,
        num_envs: int = 1,
        env: str = "clevr",
        task: str | None = None,
        level: str = "seen",
        render_mode: str | None = None,
        max_episode_steps: int | None = None,
    ):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode {render_mode!r}: only 'rgb_array' is supported")
        if max_episode_steps is not None:
            raise ValueError("the horizon is the simulator's; max_episode_steps is not supported")
        self._batch = SimBatch(env, task, level, num_envs)
        self.num_envs = num_envs
        self.level = level
        self.render_mode = render_mode
        self.single_observation_space, self.single_action_space = _spaces(self._batch)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._started = False

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None):
        super().reset(seed=seed if isinstance(seed, int) else None)
        if options and "level" in options:
            self.level = str(options["level"])
        if seed is None:
            seeds = [int(s) for s in self.np_random.integers(0, _SEED_LIMIT, self.num_envs)]
        elif isinstance(seed, int):
            seeds = [seed + i for i in range(self.num_envs)]
        else:
            seeds = [int(s) for s in seed]
        obs = self._batch.reset(seeds, self.level)
        self._started = True
        started = np.ones(self.num_envs, dtype=bool)
        return obs, self._infos(np.zeros(self.num_envs, dtype=bool), started)

    def step(self, actions):
        if not self._started:
            raise gymnasium.error.ResetNeeded("call reset before step")
        obs, reward, term, trunc, success, started = _step(self._batch, actions, True)
        return obs, reward.astype(np.float64), term, trunc, self._infos(success, started)

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        return self._batch.render()

    def expert_actions(self, noise: float = 0.0) -> np.ndarray:
        """The scripted expert's action per env (``[N]`` int64 or ``[N, 4]`` float32)."""
        return self._batch.expert_actions(noise)

    def _infos(self, success: np.ndarray, started: np.ndarray) -> dict[str, Any]:
        """Vector infos: every key for every env, except ``goal`` (the parsed goal spec), given
        only where an episode started in this call (mask ``_goal``)."""
        rows = self._batch.infos()
        mask = np.ones(self.num_envs, dtype=bool)
        goal = np.full(self.num_envs, None, dtype=object)
        for i in np.flatnonzero(started):
            goal[i] = json.loads(rows[i][1])
        info: dict[str, Any] = {
            "instruction": np.array([r[0] for r in rows], dtype=object),
            "level": np.array([r[2] for r in rows], dtype=object),
            "episode_seed": np.array([r[3] for r in rows], dtype=np.uint64),
            "steps": np.array([r[4] for r in rows], dtype=np.int64),
            "success": np.asarray(success, dtype=bool),
        }
        for k in list(info):
            info["_" + k] = mask
        info["goal"], info["_goal"] = goal, np.asarray(started, dtype=bool)
        return info


def register_envs() -> None:
    """Registers ``vlgor/CLEVR-v0`` and ``vlgor/MetaWorld-<task>-v0`` for every task."""
    ids = [("vlgor/CLEVR-v0", {"env": "clevr"})]
    ids += [(f"vlgor/MetaWorld-{t}-v0", {"env": "metaworld", "task": t}) for t in metaworld_tasks()]
    for env_id, kwargs in ids:
        if env_id in gymnasium.registry:
            continue
        gymnasium.register(
            id=env_id,
            entry_point="vlgor.envs:VlgorEnv",
            vector_entry_point="vlgor.envs:VlgorVectorEnv",
            kwargs=kwargs,
        )
