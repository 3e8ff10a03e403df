"""`vlgor.open_dataset` reads what `vlgor collect` wrote, with the CLI's checks."""

import json
import pathlib
import subprocess

import numpy as np
import pytest

import vlgor


@pytest.fixture(scope="module")
def clevr_data(vlgor_bin, tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "clevr"
    cmd = [vlgor_bin, "collect", "--env", "clevr", "--episodes", "12", "--out", str(out)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    return out


def test_columns_match_the_manifest_and_dataset_info(vlgor_bin, clevr_data):
    d = vlgor.open_dataset(clevr_data)
    info = json.loads(
        subprocess.run(
            [vlgor_bin, "--json", "dataset", "info", str(clevr_data)],
            capture_output=True, text=True, check=True,
        ).stdout.strip().splitlines()[-1]
    )
    assert len(d["episodes"]) == info["episodes"] == 12
    assert d["rewards"].shape == (info["transitions"],)
    assert d["actions"].dtype == np.int64 and d["actions"].shape == d["rewards"].shape
    rows = sum(e["length"] + 1 for e in d["episodes"])
    assert d["observations"].shape == (rows, d["manifest"]["obs_dim"])
    assert d["states"].shape[0] == rows
    successes = sum(
        bool(d["success"][e["first_transition"] : e["first_transition"] + e["length"]].any())
        for e in d["episodes"]
    )
    assert successes / 12 == pytest.approx(info["success_rate"])
    assert all(isinstance(e["goal"], dict) and e["instruction"] for e in d["episodes"])


def test_a_corrupt_shard_is_a_clear_error(clevr_data, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in clevr_data.rglob("*"):
        if f.is_file():
            dst = bad / f.relative_to(clevr_data)
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(f.read_bytes())
    shard = next(p for p in bad.rglob("*.safetensors"))
    b = bytearray(shard.read_bytes())
    b[-1] ^= 0xFF
    shard.write_bytes(bytes(b))
    with pytest.raises(ValueError, match="sha256|checksum"):
        vlgor.open_dataset(bad)
    with pytest.raises(ValueError, match="manifest"):
        vlgor.open_dataset(pathlib.Path(tmp_path) / "nowhere")
