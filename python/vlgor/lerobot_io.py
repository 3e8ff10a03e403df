"""vlgor datasets to and from the LeRobot dataset v3.0 layout, written and read with pyarrow
against LeRobot's documented schema (the `lerobot` package itself is not installed here).

Layout::

    OUT/meta/info.json                               codebase_version "v3.0", fps, features,
                                                     path templates, splits, vlgor_manifest
    OUT/meta/tasks.parquet                           task_index, task (instruction text)
    OUT/meta/episodes/chunk-000/file-000.parquet     episode_index, tasks, length,
                                                     data/chunk_index, data/file_index,
                                                     dataset_from_index, dataset_to_index,
                                                     meta/episodes/chunk_index, .../file_index,
                                                     vlgor/* (seed, instruction JSON, verdict,
                                                     final observation, state and frame)
    OUT/data/chunk-000/file-000.parquet              one row per transition t: observation.state
                                                     (the observation before the action),
                                                     observation.environment_state (the
                                                     physical state), observation.image (PNG,
                                                     when the dataset stores frames), action,
                                                     next.reward, next.done, next.success,
                                                     vlgor.terminal, vlgor.timeout, timestamp,
                                                     frame_index, episode_index, index,
                                                     task_index

An episode of T transitions is T rows; its last observation (after the last action) lives in
the episode table. ``timestamp`` is ``frame_index / fps`` with ``fps`` the simulator's step
rate (CLEVR 2.5: one 0.4 s push; Meta-World 80: 0.0125 s steps).
"""

from __future__ import annotations

import io
import json
import os
import pathlib
import shutil
import tempfile

import numpy as np

from vlgor import _vlgor
from vlgor.datasets import open_dataset
from vlgor.interop_common import InteropError, episode_slices

DATA_FILE = "data/chunk-000/file-000.parquet"
EPISODES_FILE = "meta/episodes/chunk-000/file-000.parquet"
FPS = {"clevr": 2.5, "metaworld": 80}


def _png(frame: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="PNG")
    return buf.getvalue()


def _unpng(b: bytes) -> np.ndarray:
    from PIL import Image

    return np.array(Image.open(io.BytesIO(b)).convert("RGB"), dtype=np.uint8)


def _features(m: dict) -> dict:
    f = {
        "observation.state": {"dtype": "float32", "shape": [m["obs_dim"]], "names": None},
        "observation.environment_state": {
            "dtype": "float32", "shape": [m["state_dim"]], "names": None},
        "next.reward": {"dtype": "float32", "shape": [1], "names": None},
        "next.done": {"dtype": "bool", "shape": [1], "names": None},
        "next.success": {"dtype": "bool", "shape": [1], "names": None},
        "vlgor.terminal": {"dtype": "bool", "shape": [1], "names": None},
        "vlgor.timeout": {"dtype": "bool", "shape": [1], "names": None},
        "timestamp": {"dtype": "float32", "shape": [1], "names": None},
        "frame_index": {"dtype": "int64", "shape": [1], "names": None},
        "episode_index": {"dtype": "int64", "shape": [1], "names": None},
        "index": {"dtype": "int64", "shape": [1], "names": None},
        "task_index": {"dtype": "int64", "shape": [1], "names": None},
    }
    a = m["action_space"]
    if a["kind"] == "discrete":
        f["action"] = {"dtype": "int64", "shape": [1], "names": [f"push 0..{a['n'] - 1}"]}
    else:
        f["action"] = {"dtype": "float32", "shape": [a["dim"]], "names": ["dx", "dy", "dz", "grip"]}
    if m["frames"]:
        fr = m["frames"]
        f["observation.image"] = {
            "dtype": "image", "shape": [fr["height"], fr["width"], 3],
            "names": ["height", "width", "channels"]}
    return f


def export_lerobot(src: pathlib.Path, out: pathlib.Path) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if out.exists():
        raise InteropError(f"--out {out}: already exists")
    data = open_dataset(src)
    m = data["manifest"]
    fps = FPS[m["env"]]
    tasks: dict[str, int] = {}
    cols: dict[str, list] = {k: [] for k in _features(m)}
    ep_rows: dict[str, list] = {k: [] for k in [
        "episode_index", "tasks", "length", "data/chunk_index", "data/file_index",
        "dataset_from_index", "dataset_to_index", "meta/episodes/chunk_index",
        "meta/episodes/file_index", "vlgor/index", "vlgor/seed", "vlgor/instruction_json",
        "vlgor/verdict", "vlgor/final_observation", "vlgor/final_state", "vlgor/final_frame"]}
    at = 0
    for e_i, ep in enumerate(episode_slices(data)):
        t = len(ep["rewards"])
        task = tasks.setdefault(ep["instruction"], len(tasks))
        for i in range(t):
            cols["observation.state"].append(ep["observations"][i])
            cols["observation.environment_state"].append(
                ep["states"][i] if len(ep["states"]) else np.zeros(0, np.float32))
            a = ep["actions"][i]
            cols["action"].append(np.atleast_1d(a))
            cols["next.reward"].append(ep["rewards"][i])
            cols["next.done"].append(bool(ep["terminals"][i] or ep["timeouts"][i]))
            cols["next.success"].append(bool(ep["success"][i]))
            cols["vlgor.terminal"].append(bool(ep["terminals"][i]))
            cols["vlgor.timeout"].append(bool(ep["timeouts"][i]))
            cols["timestamp"].append(i / fps)
            cols["frame_index"].append(i)
            cols["episode_index"].append(e_i)
            cols["index"].append(at + i)
            cols["task_index"].append(task)
            if "observation.image" in cols:
                cols["observation.image"].append({"bytes": _png(ep["frames"][i]), "path": None})
        for k, v in [("episode_index", e_i), ("tasks", [ep["instruction"]]), ("length", t),
                     ("data/chunk_index", 0), ("data/file_index", 0),
                     ("dataset_from_index", at), ("dataset_to_index", at + t),
                     ("meta/episodes/chunk_index", 0), ("meta/episodes/file_index", 0),
                     ("vlgor/index", int(ep["index"])), ("vlgor/seed", int(ep["seed"])),
                     ("vlgor/instruction_json", ep["instruction_json"]),
                     ("vlgor/verdict", ep["verdict"]),
                     ("vlgor/final_observation", ep["observations"][t].tolist()),
                     ("vlgor/final_state", ep["states"][t].tolist() if len(ep["states"]) else []),
                     ("vlgor/final_frame",
                      _png(ep["frames"][t]) if ep["frames"] is not None else None)]:
            ep_rows[k].append(v)
        at += t
    tmp = pathlib.Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        (tmp / "data/chunk-000").mkdir(parents=True)
        (tmp / "meta/episodes/chunk-000").mkdir(parents=True)
        table = {}
        for k, v in cols.items():
            if k in ("observation.state", "observation.environment_state"):
                table[k] = pa.array([x.tolist() for x in v], pa.list_(pa.float32()))
            elif k == "action":
                typ = pa.int64() if m["action_space"]["kind"] == "discrete" else pa.float32()
                table[k] = pa.array([x.tolist() for x in v], pa.list_(typ))
            elif k == "observation.image":
                table[k] = pa.array(v, pa.struct([("bytes", pa.binary()), ("path", pa.string())]))
            elif k in ("next.reward", "timestamp"):
                table[k] = pa.array(v, pa.float32())
            elif k in ("frame_index", "episode_index", "index", "task_index"):
                table[k] = pa.array(v, pa.int64())
            else:
                table[k] = pa.array(v, pa.bool_())
        pq.write_table(pa.table(table), tmp / DATA_FILE)
        ep_table = dict(ep_rows)
        ep_table["vlgor/seed"] = pa.array(ep_rows["vlgor/seed"], pa.uint64())
        ep_table["vlgor/final_observation"] = pa.array(
            ep_rows["vlgor/final_observation"], pa.list_(pa.float32()))
        ep_table["vlgor/final_state"] = pa.array(ep_rows["vlgor/final_state"], pa.list_(pa.float32()))
        ep_table["vlgor/final_frame"] = pa.array(ep_rows["vlgor/final_frame"], pa.binary())
        pq.write_table(pa.table(ep_table), tmp / EPISODES_FILE)
        pq.write_table(
            pa.table({"task_index": pa.array(list(tasks.values()), pa.int64()),
                      "task": pa.array(list(tasks.keys()), pa.string())}),
            tmp / "meta/tasks.parquet")
        info = {
            "codebase_version": "v3.0",
            "robot_type": "sawyer" if m["env"] == "metaworld" else "clevr-robot",
            "total_episodes": len(data["episodes"]),
            "total_frames": at,
            "total_tasks": len(tasks),
            "chunks_size": 1000,
            "data_files_size_in_mb": 100,
            "video_files_size_in_mb": 500,
            "fps": fps,
            "splits": {"train": f"0:{len(data['episodes'])}"},
            "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
            "video_path": None,
            "features": _features(m),
            "vlgor_manifest": m,
        }
        (tmp / "meta/info.json").write_text(json.dumps(info, indent=2))
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"format": "lerobot", "out": str(out), "episodes": len(data["episodes"]), "frames": at}


def import_lerobot(src: pathlib.Path, out: pathlib.Path) -> dict:
    import pyarrow.parquet as pq

    info_path = src / "meta/info.json"
    if not info_path.is_file():
        raise InteropError(f"{src}: no meta/info.json here: not a LeRobot dataset directory")
    info = json.loads(info_path.read_text())
    if info.get("codebase_version") != "v3.0":
        raise InteropError(f"{info_path}: codebase_version {info.get('codebase_version')!r}, "
                           "only v3.0 is read")
    if "vlgor_manifest" not in info:
        raise InteropError(f"{info_path}: no vlgor_manifest; only LeRobot datasets that carry "
                           "vlgor's header and per-episode instruction (as `vlgor export` writes "
                           "them) can be imported")
    m = info["vlgor_manifest"]
    rows = pq.read_table(src / DATA_FILE).to_pydict()
    eps = pq.read_table(src / EPISODES_FILE).to_pydict()
    discrete = m["action_space"]["kind"] == "discrete"
    episodes = []
    for k in range(len(eps["episode_index"])):
        lo, hi = eps["dataset_from_index"][k], eps["dataset_to_index"][k]
        obs = rows["observation.state"][lo:hi] + [eps["vlgor/final_observation"][k]]
        states = rows["observation.environment_state"][lo:hi] + [eps["vlgor/final_state"][k]]
        act = rows["action"][lo:hi]
        frames = None
        if "observation.image" in rows:
            frames = np.stack([_unpng(r["bytes"]) for r in rows["observation.image"][lo:hi]]
                              + [_unpng(eps["vlgor/final_frame"][k])])
        episodes.append({
            "index": int(eps["vlgor/index"][k]),
            "seed": int(eps["vlgor/seed"][k]),
            "instruction_json": eps["vlgor/instruction_json"][k],
            "verdict": eps["vlgor/verdict"][k],
            "observations": np.asarray(obs, np.float32),
            "states": np.asarray(states, np.float32) if m["state_dim"] else np.zeros(0, np.float32),
            "actions": (np.asarray(act, np.int64).reshape(-1) if discrete
                        else np.asarray(act, np.float32).reshape(hi - lo, -1)),
            "rewards": np.asarray(rows["next.reward"][lo:hi], np.float32),
            "success": np.asarray(rows["next.success"][lo:hi], bool),
            "terminals": np.asarray(rows["vlgor.terminal"][lo:hi], bool),
            "timeouts": np.asarray(rows["vlgor.timeout"][lo:hi], bool),
            "frames": frames,
        })
    _vlgor.write_dataset(os.fspath(out), json.dumps(m), episodes)
    return {"format": "lerobot", "out": str(out), "episodes": len(episodes)}
