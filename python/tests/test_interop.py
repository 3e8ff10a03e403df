"""`vlgor export` / `vlgor import`: Minari (checked with the real `minari` package) and LeRobot
v3 (checked with pyarrow against the documented schema), and identical round trips."""

import json
import os
import pathlib
import subprocess

import numpy as np
import pyarrow.parquet as pq
import pytest

import vlgor


def run(vlgor_bin, *args, ok=True):
    res = subprocess.run([vlgor_bin, *args], capture_output=True, text=True, timeout=900)
    if ok:
        assert res.returncode == 0, res.stderr
    return res


def last_json(res):
    return json.loads(res.stdout.strip().splitlines()[-1])


def f32_sum(values) -> float:
    """Sum in float32, left to right, as the Rust side adds."""
    acc = np.float32(0)
    for v in np.asarray(values, np.float32):
        acc = np.float32(acc + v)
    return float(acc)


def tree(d: pathlib.Path) -> dict:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def clevr100(vlgor_bin, tmp_path_factory):
    out = tmp_path_factory.mktemp("interop") / "clevr100"
    run(vlgor_bin, "collect", "--env", "clevr", "--episodes", "100", "--out", str(out))
    return out


@pytest.fixture(scope="module")
def reach_frames(vlgor_bin, tmp_path_factory):
    out = tmp_path_factory.mktemp("interop") / "reach"
    run(vlgor_bin, "collect", "--env", "metaworld", "--task", "reach", "--episodes", "3",
        "--max-steps", "40", "--frames", "--out", str(out))
    return out


def test_minari_export_loads_with_minari_and_keeps_reward_sums(vlgor_bin, clevr100, tmp_path,
                                                              monkeypatch):
    import minari

    info = last_json(run(vlgor_bin, "--json", "dataset", "info", str(clevr100)))
    out = tmp_path / "vlgor-clevr-expert-v0"
    run(vlgor_bin, "export", str(clevr100), "--format", "minari", "--out", str(out))
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    ds = minari.load_dataset("vlgor-clevr-expert-v0")
    assert ds.total_episodes == 100 == info["episodes"]
    assert ds.total_steps == info["transitions"]
    sums = [f32_sum(ep.rewards) for ep in ds.iterate_episodes()]
    assert sums == info["episode_returns"]
    ep = next(iter(ds.iterate_episodes()))
    assert ep.observations.shape == (len(ep.rewards) + 1, 10)
    assert ds.action_space.n == 40


def test_minari_round_trip_is_identical(vlgor_bin, clevr100, tmp_path):
    out = tmp_path / "rt-v0"
    run(vlgor_bin, "export", str(clevr100), "--format", "minari", "--out", str(out))
    back = tmp_path / "back"
    run(vlgor_bin, "import", str(out), "--format", "minari", "--out", str(back))
    assert tree(back) == tree(clevr100)
    run(vlgor_bin, "check", str(back))


def test_lerobot_export_matches_the_v3_schema_and_round_trips(vlgor_bin, clevr100, tmp_path):
    out = tmp_path / "lerobot"
    run(vlgor_bin, "export", str(clevr100), "--format", "lerobot", "--out", str(out))
    info = json.loads((out / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0"
    assert info["total_episodes"] == 100
    for key in ("timestamp", "frame_index", "episode_index", "index", "task_index", "action",
                "observation.state"):
        assert key in info["features"], key
    data = pq.read_table(out / info["data_path"].format(chunk_index=0, file_index=0))
    assert data.num_rows == info["total_frames"]
    assert set(info["features"]) <= set(data.column_names)
    eps = pq.read_table(out / "meta/episodes/chunk-000/file-000.parquet").to_pydict()
    tasks = pq.read_table(out / "meta/tasks.parquet").to_pydict()
    assert len(tasks["task"]) == info["total_tasks"]
    d = vlgor.open_dataset(clevr100)
    assert [e["instruction"] for e in d["episodes"]] == [t[0] for t in eps["tasks"]]
    assert eps["dataset_to_index"][-1] == data.num_rows
    back = tmp_path / "back"
    run(vlgor_bin, "import", str(out), "--format", "lerobot", "--out", str(back))
    assert tree(back) == tree(clevr100)


@pytest.mark.parametrize("fmt,name", [("minari", "reach-v0"), ("lerobot", "reach-lerobot")])
def test_round_trip_with_frames_and_continuous_actions(vlgor_bin, reach_frames, tmp_path, fmt, name):
    out = tmp_path / name
    run(vlgor_bin, "export", str(reach_frames), "--format", fmt, "--out", str(out))
    back = tmp_path / "back"
    run(vlgor_bin, "import", str(out), "--format", fmt, "--out", str(back))
    assert tree(back) == tree(reach_frames)


def test_bad_inputs_exit_2(vlgor_bin, clevr100, tmp_path):
    r = run(vlgor_bin, "export", str(clevr100), "--format", "minari", "--out",
            str(tmp_path / "no_version"), ok=False)
    assert r.returncode == 2 and "-v<N>" in r.stderr
    r = run(vlgor_bin, "import", str(tmp_path), "--format", "lerobot", "--out",
            str(tmp_path / "x"), ok=False)
    assert r.returncode == 2 and "meta/info.json" in r.stderr
    r = run(vlgor_bin, "import", str(tmp_path), "--format", "minari", "--out",
            str(tmp_path / "x"), ok=False)
    assert r.returncode == 2 and "metadata.json" in r.stderr
