"""The Gymnasium environments: registration, the API checker, spaces, rendering, vector form."""

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import vlgor

ALL_IDS = ["vlgor/CLEVR-v0"] + [f"vlgor/MetaWorld-{t}-v0" for t in vlgor.METAWORLD_TASKS]


def test_every_task_is_registered():
    assert len(vlgor.METAWORLD_TASKS) == 10
    for env_id in ALL_IDS:
        assert env_id in gymnasium.registry, env_id


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_check_env_passes(env_id):
    env = gymnasium.make(env_id)
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


def test_check_env_with_rendering():
    env = gymnasium.make("vlgor/CLEVR-v0", render_mode="rgb_array")
    check_env(env.unwrapped)


def test_spaces_match_the_simulators():
    clevr = gymnasium.make("vlgor/CLEVR-v0")
    assert clevr.action_space == gymnasium.spaces.Discrete(40)
    assert clevr.observation_space.shape == (10,)
    mw = gymnasium.make("vlgor/MetaWorld-reach-v0")
    assert mw.action_space == gymnasium.spaces.Box(-1.0, 1.0, (4,), np.float32)
    assert mw.observation_space.shape == (39,)
    assert mw.observation_space.dtype == np.float32


def test_info_carries_instruction_goal_and_success():
    env = gymnasium.make("vlgor/CLEVR-v0", level="hard")
    obs, info = env.reset(seed=7)
    assert info["level"] == "hard" and info["success"] is False
    assert isinstance(info["instruction"], str) and info["instruction"]
    assert info["goal"]["env"] == "clevr"
    _, _, _, _, info = env.step(0)
    assert isinstance(info["success"], bool) and info["steps"] == 1


def test_level_option_changes_the_instructions():
    env = gymnasium.make("vlgor/MetaWorld-push-v0")
    _, seen = env.reset(seed=3)
    _, reph = env.reset(seed=3, options={"level": "rephrase"})
    assert seen["level"] == "seen" and reph["level"] == "rephrase"
    with pytest.raises(ValueError, match="unseen-relation"):
        env.reset(seed=3, options={"level": "unseen-relation"})
    with pytest.raises(ValueError, match="valid levels"):
        gymnasium.make("vlgor/CLEVR-v0", level="nope").reset(seed=0)


def test_same_seed_same_episode_and_bad_actions_are_errors():
    env = gymnasium.make("vlgor/CLEVR-v0").unwrapped
    a, ia = env.reset(seed=11)
    b, ib = env.reset(seed=11)
    np.testing.assert_array_equal(a, b)
    assert ia == ib
    c, _ = env.reset(seed=12)
    assert not np.array_equal(a, c)
    with pytest.raises(ValueError, match="Discrete"):
        env.step(40)
    mw = gymnasium.make("vlgor/MetaWorld-reach-v0").unwrapped
    mw.reset(seed=0)
    with pytest.raises(ValueError, match="finite"):
        mw.step(np.array([np.nan, 0, 0, 0], np.float32))


def test_render_is_a_128x128_rgb_frame_that_follows_the_state():
    env = gymnasium.make("vlgor/CLEVR-v0", render_mode="rgb_array")
    env.reset(seed=5)
    f0 = env.render()
    assert f0.shape == (128, 128, 3) and f0.dtype == np.uint8
    assert f0.std() > 0, "a blank frame"
    np.testing.assert_array_equal(f0, env.render())
    env.step(env.unwrapped.expert_action())
    assert not np.array_equal(f0, env.render())
    mw = gymnasium.make("vlgor/MetaWorld-door-open-v0", render_mode="rgb_array")
    mw.reset(seed=5)
    assert mw.render().shape == (128, 128, 3)


@pytest.mark.parametrize("env_id", ["vlgor/CLEVR-v0", "vlgor/MetaWorld-pick-place-v0"])
def test_make_vec_16_resets_steps_and_autoresets(env_id):
    envs = gymnasium.make_vec(env_id, num_envs=16, vectorization_mode="vector_entry_point")
    assert isinstance(envs.unwrapped, vlgor.VlgorVectorEnv)
    obs, info = envs.reset(seed=100)
    assert obs.shape == (16,) + envs.single_observation_space.shape
    assert obs.dtype == np.float32 and len(info["instruction"]) == 16
    assert info["_goal"].all() and all(isinstance(g, dict) for g in info["goal"])
    single = gymnasium.make(env_id)
    o3, _ = single.reset(seed=103)
    np.testing.assert_array_equal(obs[3], o3)
    envs.action_space.seed(0)
    ended = np.zeros(16, bool)
    for _ in range(60):
        obs, rew, term, trunc, info = envs.step(envs.action_space.sample())
        assert obs.shape[0] == 16 and rew.shape == (16,) and term.dtype == bool
        assert envs.observation_space.contains(obs)
        ended |= term | trunc
        if ended.any() and env_id.startswith("vlgor/CLEVR"):
            break
    if env_id.startswith("vlgor/CLEVR"):
        assert ended.any(), "some CLEVR episode should end within 50 random pushes"
        # next-step auto-reset: the envs that ended start over with zero steps taken
        _, rew, term, trunc, info = envs.step(envs.action_space.sample())
        assert (info["steps"][ended] == 0).all() and (rew[ended] == 0).all()
        assert (info["_goal"] == ended).all()
    envs.close()


def test_vector_render_and_expert():
    envs = gymnasium.make_vec(
        "vlgor/CLEVR-v0", num_envs=4, vectorization_mode="vector_entry_point", render_mode="rgb_array"
    )
    envs.reset(seed=0)
    frames = envs.render()
    assert frames.shape == (4, 128, 128, 3) and frames.dtype == np.uint8
    single = gymnasium.make("vlgor/CLEVR-v0", render_mode="rgb_array")
    single.reset(seed=2)
    np.testing.assert_array_equal(frames[2], single.render())
    acts = envs.unwrapped.expert_actions()
    assert acts.shape == (4,) and ((0 <= acts) & (acts < 40)).all()
