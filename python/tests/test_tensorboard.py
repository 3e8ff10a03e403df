"""Training runs write TensorBoard event files that TensorBoard's own reader accepts."""

import subprocess

import pytest

TINY = (
    "[rl]\nepochs = 2\nsteps_per_epoch = 20\nbatch_size = 16\neval_every = 1\n"
    "eval_episodes = 2\ntext_hidden = 32\nfeature_dim = 32\njoint_dim = 32\n"
)


def test_policy_run_curves_read_with_event_accumulator(vlgor_bin, tmp_path):
    from tensorboard.backend.event_processing import event_accumulator

    cfg = tmp_path / "tiny.toml"
    cfg.write_text(TINY)
    data, run = tmp_path / "data", tmp_path / "run"
    for cmd in (
        ["collect", "--env", "clevr", "--episodes", "12", "--out", str(data)],
        ["--config", str(cfg), "train-policy", "--env", "clevr", "--algo", "bc",
         "--data", str(data), "--out", str(run)],
    ):
        res = subprocess.run([vlgor_bin, *cmd], capture_output=True, text=True, timeout=900)
        assert res.returncode == 0, res.stderr
    acc = event_accumulator.EventAccumulator(str(run))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    assert "train/lr" in tags and "eval/success_rate" in tags, tags
    loss_tags = [t for t in tags if t.startswith("train/") and t != "train/lr"]
    assert loss_tags, tags
    lines = (run / "train_log.jsonl").read_text().splitlines()
    points = acc.Scalars(loss_tags[0])
    assert len(points) == len(lines)
    assert [p.step for p in points] == sorted(p.step for p in points)
    assert [p.step for p in acc.Scalars("eval/success_rate")] == [1, 2]
    assert all(0.0 <= p.value <= 1.0 for p in acc.Scalars("eval/success_rate"))
    assert acc.Scalars("train/lr")[0].value == pytest.approx(
        __import__("json").loads(lines[0])["lr"], rel=1e-6)
