"""vlgor datasets to and from Minari's HDF5 layout, written and read with the real `minari`
package (``minari[hdf5]``).

Layout (Minari 0.5): ``OUT/data/main_data.hdf5`` with one group ``episode_<i>`` per episode
(``observations`` [T+1, D], ``actions``, ``rewards``, ``terminations``, ``truncations``,
``infos/success`` [T+1] (the first entry is the reset), ``infos/state`` [T+1, S] and, when the
dataset has frames, ``infos/frame`` [T+1, H, W, 3]), the episode's ``seed`` and its instruction
as ``options/instruction`` (text), ``options/instruction_json`` (text, goal spec and level) and
``options/index``; ``OUT/data/metadata.json`` with Minari's fields plus ``vlgor_manifest``
(the vlgor manifest, so an import rebuilds an identical dataset). The dataset id is OUT's
directory name (Minari ids end in ``-v<N>``).
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import tempfile

import numpy as np

from vlgor import _vlgor
from vlgor.datasets import open_dataset
from vlgor.interop_common import InteropError, episode_slices, spaces_of


def export_minari(src: pathlib.Path, out: pathlib.Path) -> dict:
    import minari
    from minari.data_collector import EpisodeBuffer

    if not re.fullmatch(r"[\w.-]+-v\d+", out.name):
        raise InteropError(
            f"--out {out}: a Minari dataset id ends in -v<N> (e.g. clevr-expert-v0); "
            "the directory name is the id"
        )
    if out.exists():
        raise InteropError(f"--out {out}: already exists")
    data = open_dataset(src)
    m = data["manifest"]
    obs_space, act_space, env_id = spaces_of(m)
    buffers = []
    for ep in episode_slices(data):
        infos = {"success": np.concatenate([[False], ep["success"]]), "state": ep["states"]}
        if ep["frames"] is not None:
            infos["frame"] = ep["frames"]
        buffers.append(
            EpisodeBuffer(
                id=len(buffers),
                seed=int(ep["seed"]),
                options={
                    "instruction": ep["instruction"],
                    "instruction_json": ep["instruction_json"],
                    "index": int(ep["index"]),
                    "verdict": ep["verdict"] or "",
                },
                observations=ep["observations"],
                actions=ep["actions"],
                rewards=ep["rewards"],
                terminations=ep["terminals"],
                truncations=ep["timeouts"],
                infos=infos,
            )
        )
    with tempfile.TemporaryDirectory(dir=out.parent) as root:
        old = os.environ.get("MINARI_DATASETS_PATH")
        os.environ["MINARI_DATASETS_PATH"] = root
        try:
            ds = minari.create_dataset_from_buffers(
                dataset_id=out.name,
                buffer=buffers,
                env=env_id,
                algorithm_name=f"vlgor {m['collection']['policy']}",
                observation_space=obs_space,
                action_space=act_space,
                description=f"vlgor {m['env']} dataset exported from {src}",
                data_format="hdf5",
            )
            ds.storage.update_metadata({"vlgor_manifest": json.dumps(m)})
        finally:
            if old is None:
                os.environ.pop("MINARI_DATASETS_PATH", None)
            else:
                os.environ["MINARI_DATASETS_PATH"] = old
        shutil.move(str(pathlib.Path(root) / out.name), out)
    return {"format": "minari", "out": str(out), "episodes": len(buffers)}


def import_minari(src: pathlib.Path, out: pathlib.Path) -> dict:
    import minari

    data_dir = src / "data" if (src / "data").is_dir() else src
    if not (data_dir / "metadata.json").is_file():
        raise InteropError(f"{src}: no data/metadata.json here: not a Minari dataset directory")
    ds = minari.MinariDataset(data_dir)
    meta = json.loads((data_dir / "metadata.json").read_text())
    if "vlgor_manifest" not in meta:
        raise InteropError(
            f"{data_dir / 'metadata.json'}: no vlgor_manifest; only Minari datasets that carry "
            "vlgor's header and per-episode instruction (as `vlgor export` writes them) can be "
            "imported"
        )
    manifest = json.loads(meta["vlgor_manifest"])
    episodes = []
    for ep, em in zip(ds.iterate_episodes(), ds.storage.get_episode_metadata(range(ds.total_episodes))):
        opts = em.get("options", {})
        if "instruction_json" not in opts:
            raise InteropError(f"{data_dir}: episode {ep.id} has no options/instruction_json")
        infos = ep.infos or {}
        episodes.append(
            {
                "index": int(opts["index"]),
                "seed": int(em["seed"]),
                "instruction_json": str(opts["instruction_json"]),
                "verdict": str(opts.get("verdict", "")) or None,
                "states": np.asarray(infos.get("state", np.zeros((0,))), np.float32),
                "observations": np.asarray(ep.observations, np.float32),
                "actions": _actions(ep.actions, manifest),
                "rewards": np.asarray(ep.rewards, np.float32),
                "success": np.asarray(infos["success"][1:], bool),
                "terminals": np.asarray(ep.terminations, bool),
                "timeouts": np.asarray(ep.truncations, bool),
                "frames": np.asarray(infos["frame"], np.uint8) if "frame" in infos else None,
            }
        )
    _vlgor.write_dataset(os.fspath(out), json.dumps(manifest), episodes)
    return {"format": "minari", "out": str(out), "episodes": len(episodes)}


def _actions(a, manifest: dict) -> np.ndarray:
    if manifest["action_space"]["kind"] == "discrete":
        return np.ascontiguousarray(a, np.int64).reshape(-1)
    return np.ascontiguousarray(a, np.float32).reshape(-1, manifest["action_space"]["dim"])
