"""Throughput of the Gymnasium vector env (one Rust batch) against `vlgor bench sim`.

    python python/benches/vector_sim.py --vlgor "$CARGO_TARGET_DIR/release/vlgor" [--env clevr]

Steps `--num-envs` (16) envs with random actions (drawn up front with NumPy, so the figure is
the environment's) for `--steps` env steps in total, next-step auto-reset included, and runs
`vlgor bench sim` for the same simulator in the same session; prints both and their ratio as
JSON. `bench sim` is one core, state only, random actions, resets at the horizon.
"""

import argparse
import json
import subprocess
import time

import gymnasium
import numpy as np

import vlgor  # noqa: F401  (registers the environments)


def python_steps_per_sec(env_id: str, num_envs: int, steps: int) -> float:
    envs = gymnasium.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point")
    envs.reset(seed=0)
    iters = max(1, steps // num_envs)
    rng = np.random.default_rng(0)
    if isinstance(envs.single_action_space, gymnasium.spaces.Discrete):
        actions = rng.integers(0, envs.single_action_space.n, size=(iters, num_envs))
    else:
        actions = rng.uniform(-1, 1, size=(iters, num_envs, 4)).astype(np.float32)
    for a in actions[: min(20, iters)]:  # warm-up
        envs.step(a)
    start = time.perf_counter()
    for a in actions:
        envs.step(a)
    secs = time.perf_counter() - start
    envs.close()
    return iters * num_envs / secs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--vlgor", required=True, help="path of the vlgor binary")
    p.add_argument("--env", default="clevr", choices=["clevr", "metaworld"])
    p.add_argument("--task", default=None, help="Meta-World task (default: reach)")
    p.add_argument("--num-envs", type=int, default=16)
    p.add_argument("--steps", type=int, default=20000, help="env steps to time on each side")
    args = p.parse_args()
    task = args.task or ("reach" if args.env == "metaworld" else None)
    env_id = "vlgor/CLEVR-v0" if args.env == "clevr" else f"vlgor/MetaWorld-{task}-v0"
    py = python_steps_per_sec(env_id, args.num_envs, args.steps)
    cmd = [args.vlgor, "--json", "bench", "sim", "--env", args.env, "--steps", str(args.steps)]
    if task:
        cmd += ["--task", task]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    cli = json.loads(out.strip().splitlines()[-1])["steps_per_sec"]
    print(json.dumps({"env": env_id, "num_envs": args.num_envs, "steps": args.steps,
                      "python_vector_steps_per_sec": py, "cli_bench_sim_steps_per_sec": cli,
                      "ratio": py / cli}))


if __name__ == "__main__":
    main()
