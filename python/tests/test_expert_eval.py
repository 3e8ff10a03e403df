"""Scripted policies driven from Python meet `vlgor eval`'s episodes and score the same."""

import json
import subprocess

import gymnasium
import numpy as np
import pytest

import vlgor

SEEDS = [0, 1]
EPISODES = 6


def python_outcomes(env_id, level, policy):
    """Per seed, per episode: (success, steps) of `policy` driven through Gymnasium."""
    env = gymnasium.make(env_id).unwrapped
    out = {}
    for seed in SEEDS:
        rows = []
        for i in range(EPISODES):
            env.reset(seed=vlgor.episode_seed(seed, level, i), options={"level": level})
            success, steps = False, 0
            while True:
                a = env.expert_action(0.0) if policy == "expert" else env.random_action()
                _, _, term, trunc, info = env.step(a)
                steps += 1
                success |= info["success"]
                if term or trunc:
                    break
            rows.append((success, steps))
        out[seed] = rows
    return out


def cli_cells(vlgor_bin, args):
    cmd = [vlgor_bin, "--json", "eval", *args, "--policy", "expert", "--reference", "random"]
    cmd += ["--episodes", str(EPISODES), "--seeds", ",".join(map(str, SEEDS))]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def assert_cell_matches(cell, rows_by_seed):
    want = [[1.0 if s else 0.0 for s, _ in rows_by_seed[seed]] for seed in SEEDS]
    assert cell["episode_success"] == want
    steps = sorted(n for seed in SEEDS for s, n in rows_by_seed[seed] if s)
    if steps:
        assert cell["mean_steps"] == sum(steps) / len(steps)
        assert cell["median_steps"] == float(np.median(steps))
    else:
        assert cell["mean_steps"] is None


@pytest.mark.parametrize(
    "env_id,args,levels",
    [
        ("vlgor/CLEVR-v0", ["--env", "clevr"], ["seen", "counterfactual", "hard"]),
        ("vlgor/MetaWorld-reach-v0", ["--env", "metaworld", "--task", "reach"], ["seen"]),
        ("vlgor/MetaWorld-push-v0", ["--env", "metaworld", "--task", "push"], ["seen"]),
    ],
)
def test_expert_and_random_match_vlgor_eval(vlgor_bin, env_id, args, levels):
    table = cli_cells(vlgor_bin, args + ["--level", ",".join(levels)])
    expert, random = table["per_level"], table["references"]["random"]["per_level"]
    for level in levels:
        assert_cell_matches(expert[level], python_outcomes(env_id, level, "expert"))
        assert_cell_matches(random[level], python_outcomes(env_id, level, "random"))
