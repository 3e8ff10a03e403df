"""Policies trained in PyTorch: `vlgor eval --policy MODULE.pt` runs a TorchScript module in the
same batched loop as a checkpoint, `vlgor export-policy` writes a checkpoint as one that
reproduces its evaluation exactly, and a module that breaks the contract exits 2."""

import json
import pathlib
import shutil
import subprocess

import pytest

torch = pytest.importorskip("torch")
# PyTorch 2.11 marks torch.jit.script deprecated; libtorch still loads what it writes.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")

SMALL = "[render]\nwidth = 48\nheight = 48\n[rl]\nepochs = 2\neval_every = 0\n"


def run(vlgor_bin, *args, code=0):
    res = subprocess.run([vlgor_bin, "--threads", "1", *args], capture_output=True, text=True,
                         timeout=900)
    assert res.returncode == code, f"vlgor {args}: exit {res.returncode}\n{res.stderr}"
    return res


def last_json(res):
    return json.loads(res.stdout.strip().splitlines()[-1])


class StateLogits(torch.nn.Module):
    """A linear policy on CLEVR's 10-d state and the goal embedding."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(10 + 384, 40)

    def forward(self, obs: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.cat([obs, goal], 1))


class FrameLogits(torch.nn.Module):
    """A policy on frames [N, 3, H, W] u8: mean colour per channel, then linear."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3 + 384, 40)

    def forward(self, obs: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        colour = obs.to(torch.float32).mean(dim=[2, 3]) / 255.0
        return self.fc(torch.cat([colour, goal], 1))


class WrongWidth(torch.nn.Module):
    def forward(self, obs: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        return goal[:, :7]


class OneInput(torch.nn.Module):
    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return obs.new_zeros([obs.shape[0], 40])


class NotFinite(torch.nn.Module):
    def forward(self, obs: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        return goal[:, :40] / 0.0


def save(module, path: pathlib.Path) -> str:
    torch.manual_seed(0)
    torch.jit.script(module).save(str(path))
    return str(path)


@pytest.fixture(scope="module")
def small_config(tmp_path_factory) -> str:
    p = tmp_path_factory.mktemp("torchscript") / "small.toml"
    p.write_text(SMALL)
    return str(p)


@pytest.mark.parametrize("module,obs", [(StateLogits, "state"), (FrameLogits, "frames")])
def test_a_pytorch_policy_evaluates_headless(vlgor_bin, small_config, tmp_path, module, obs):
    pt = save(module(), tmp_path / f"{obs}.pt")
    args = ["--config", small_config, "--json", "eval", "--env", "clevr", "--policy", pt,
            "--level", "counterfactual,seen", "--episodes", "3", "--reference", "random"]
    out = last_json(run(vlgor_bin, *args))
    assert out["policy"] == pt and out["checkpoints"] == 1
    assert set(out["per_level"]) == {"counterfactual", "seen"}
    assert len(out["per_level"]["seen"]["episode_success"][0]) == 3
    assert "random" in out["references"] and out["paired"]["random"]
    # One module, loaded once, gives the same table again.
    assert last_json(run(vlgor_bin, *args))["per_level"] == out["per_level"]


@pytest.mark.parametrize("module,needle", [
    (WrongWidth, "output shape [2, 7], expected [2, 40] logits"),
    (OneInput, "forward must take (obs, goal)"),
    (NotFinite, "non-finite"),
])
def test_a_module_that_breaks_the_contract_exits_2(vlgor_bin, tmp_path, module, needle):
    pt = save(module(), tmp_path / "bad.pt")
    res = run(vlgor_bin, "eval", "--env", "clevr", "--policy", pt, "--level", "counterfactual",
              "--episodes", "1", code=2)
    assert pt in res.stderr and needle in res.stderr, res.stderr
    assert "panicked" not in res.stderr


def test_a_file_that_is_not_torchscript_exits_2(vlgor_bin, tmp_path):
    pt = tmp_path / "notes.pt"
    pt.write_text("not a module")
    res = run(vlgor_bin, "eval", "--env", "clevr", "--policy", str(pt), "--episodes", "1",
              code=2)
    assert str(pt) in res.stderr and "not a TorchScript module" in res.stderr, res.stderr
    assert "panicked" not in res.stderr


@pytest.fixture(scope="module")
def clevr_data(vlgor_bin, tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("torchscript") / "clevr"
    run(vlgor_bin, "collect", "--env", "clevr", "--episodes", "40", "--out", str(out))
    return str(out)


@pytest.mark.parametrize("algo,obs", [("bc", "state"), ("cql", "state"), ("bc", "image")])
def test_an_exported_checkpoint_reproduces_its_evaluation(vlgor_bin, small_config, clevr_data,
                                                           tmp_path, algo, obs):
    run_dir = tmp_path / "run"
    run(vlgor_bin, "--config", small_config, "train-policy", "--env", "clevr", "--algo", algo,
        "--obs", obs, "--data", clevr_data, "--out", str(run_dir))
    ckpt = run_dir / "checkpoints" / "epoch-0002.safetensors"
    pt = tmp_path / "policy.pt"
    exported = last_json(run(vlgor_bin, "--config", small_config, "--json", "export-policy",
                             str(ckpt), "--out", str(pt)))
    assert exported["probe_identical"] == exported["probe_rows"] == 64, exported
    assert exported["obs"] == obs and pt.is_file()
    assert not list(tmp_path.glob(".policy.pt.tmp-*")), "the temporary file stayed behind"
    if (algo, obs) == ("bc", "state"):
        again = tmp_path / "again.pt"
        run(vlgor_bin, "export-policy", str(ckpt), "--out", str(again))
        assert again.read_bytes() == pt.read_bytes(), "the same checkpoint gave other bytes"
    common = ["--level", "counterfactual,seen", "--episodes", "4", "--seeds", "0,1",
              "--reference", "none"]
    want = last_json(run(vlgor_bin, "--config", small_config, "--json", "eval", str(ckpt),
                         *common))
    got = last_json(run(vlgor_bin, "--config", small_config, "--json", "eval", "--env", "clevr",
                        "--policy", str(pt), *common))
    assert got["per_level"] == want["per_level"]
    assert got["checkpoints"] == want["checkpoints"] == 1


def test_a_metaworld_checkpoint_exports_with_its_continuous_head(vlgor_bin, small_config,
                                                                 tmp_path):
    data, run_dir, pt = tmp_path / "reach", tmp_path / "run", tmp_path / "reach.pt"
    run(vlgor_bin, "collect", "--env", "metaworld", "--task", "reach", "--episodes", "4",
        "--max-steps", "40", "--out", str(data))
    run(vlgor_bin, "--config", small_config, "train-policy", "--env", "metaworld", "--algo", "bc",
        "--data", str(data), "--out", str(run_dir), "--obs", "state")
    exported = last_json(run(vlgor_bin, "--json", "export-policy", str(run_dir), "--out",
                             str(pt)))
    assert exported["output"] == "actions" and exported["probe_identical"] == 64, exported
    common = ["--task", "reach", "--episodes", "2", "--reference", "none"]
    want = last_json(run(vlgor_bin, "--json", "eval", exported["checkpoint"], *common))
    got = last_json(run(vlgor_bin, "--json", "eval", "--env", "metaworld", "--policy", str(pt),
                        *common))
    assert got["per_level"] == want["per_level"]


def test_export_refuses_a_checkpoint_name_as_output(vlgor_bin, tmp_path):
    res = run(vlgor_bin, "export-policy", str(tmp_path), "--out", str(tmp_path / "m.json"),
              code=2)
    assert "name a TorchScript file" in res.stderr


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="xvfb-run not installed")
def test_view_runs_a_pytorch_policy_under_xvfb(vlgor_bin, tmp_path):
    pt = save(StateLogits(), tmp_path / "p.pt")
    res = subprocess.run(["xvfb-run", "-a", vlgor_bin, "--threads", "1", "view", "--env", "clevr",
                          "--policy", pt, "--max-frames", "3", "--size", "64"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr


def test_view_refuses_a_module_that_breaks_the_contract(vlgor_bin, tmp_path):
    pt = save(WrongWidth(), tmp_path / "bad.pt")
    res = run(vlgor_bin, "view", "--env", "clevr", "--policy", pt, code=2)
    assert pt in res.stderr and "expected [2, 40] logits" in res.stderr, res.stderr
