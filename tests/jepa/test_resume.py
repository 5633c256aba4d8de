"""Exact resume: a run killed with SIGKILL and resumed from its last checkpoint continues the uninterrupted loss
curve; checkpoints are written atomically, a full disk is reported, SIGTERM saves and stops, NaN steps are
skipped and then stop the run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from jepa.cli import main
from tests.jepa.test_cli import TINY, csv_rows


def loss_by_step(run_dir: Path) -> dict[float, float]:
    """``train/loss`` of each logged step (rows without it, such as the collapse monitor's step-0 row, left out)."""
    return {float(r["step"]): float(r["train/loss"]) for r in csv_rows(run_dir, "train/loss")}

# 22 steps an epoch (1,437 digits, batch 64): the kill lands mid-epoch and the run crosses an epoch after it
RUN = [*TINY, "data.batch_size=64", "trainer.max_steps=40", "checkpoint.every_n_steps=4",
       "trainer.check_val_every_n_epoch=null"]  # fmt: skip


def checkpoint_step(path: Path) -> int:
    try:
        return int(torch.load(path, map_location="cpu", weights_only=False)["global_step"])
    except (OSError, RuntimeError, EOFError, KeyError):
        return -1


def test_a_run_killed_mid_epoch_resumes_on_the_same_loss_curve(tmp_path):
    def start(run_dir: Path, *extra: str) -> subprocess.Popen:  # a fresh process, as a cluster job is
        return subprocess.Popen([sys.executable, "-m", "jepa", "fit", *RUN, f"hydra.run.dir={run_dir}", *extra],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip

    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert start(whole).wait() == 0
    proc = start(killed)
    deadline = time.time() + 300
    while checkpoint_step(killed / "last.ckpt") < 8 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    step = checkpoint_step(killed / "last.ckpt")
    assert 8 <= step < 40 and not (killed / "metrics.json").exists(), "killed mid-run, after a checkpoint"

    assert start(killed, "ckpt_path=last").wait() == 0
    assert json.loads((killed / "metrics.json").read_text())["global_step"] == 40
    expected, resumed = loss_by_step(whole), loss_by_step(killed)
    after = sorted(s for s in resumed if s >= step)
    assert after == sorted(s for s in expected if s >= step) and len(after) >= 40 - step - 2
    torch.testing.assert_close([resumed[s] for s in after], [expected[s] for s in after], rtol=1e-5, atol=1e-6)
    # the same weights, to the drift two identical CPU runs show (threaded kernels are not bitwise repeatable)
    final = [torch.load(d / "last.ckpt", map_location="cpu", weights_only=False) for d in (whole, killed)]
    for key, value in final[0]["state_dict"].items():  # context and EMA target encoders, predictor, probe
        torch.testing.assert_close(final[1]["state_dict"][key], value, rtol=1e-5, atol=1e-6, msg=key)


def test_checkpoints_are_replaced_whole_and_a_full_disk_is_reported(tmp_path, monkeypatch):
    from jepa.checkpointing import AtomicCheckpointIO, CheckpointWriteError

    io, path = AtomicCheckpointIO(), tmp_path / "last.ckpt"
    io.save_checkpoint({"step": torch.tensor(1)}, path)
    assert torch.load(path, weights_only=True)["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]

    def full_disk(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(CheckpointWriteError, match=r"last\.ckpt: .*No space left on device; .* GiB free .*untouched"):
        io.save_checkpoint({"step": torch.tensor(2)}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True)["step"] == 1, "the previous checkpoint is intact"
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name], "no partial file is left"


def test_a_full_disk_stops_jepa_fit_with_one_message(tmp_path, monkeypatch, capsys):
    def full_disk(obj, f, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    run_dir = tmp_path / "run"
    assert main(["fit", *TINY, "trainer.max_steps=3", "checkpoint.every_n_steps=2", f"hydra.run.dir={run_dir}"]) == 1
    err = capsys.readouterr().err
    assert f"could not write checkpoint {run_dir / 'last.ckpt'}" in err and "No space left" in err


def test_sigterm_saves_a_checkpoint_and_stops_then_the_run_resumes(tmp_path):
    run_dir = tmp_path / "run"
    args = [sys.executable, "-m", "jepa", "fit", *TINY, "data.num_workers=2", "trainer.max_steps=100000",
            "checkpoint.every_n_steps=5", f"hydra.run.dir={run_dir}"]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 300
    while checkpoint_step(run_dir / "last.ckpt") < 5 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)  # training is under way
    os.killpg(proc.pid, signal.SIGTERM)  # every process of the job, loader workers too, as SLURM and timeout do
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0 and "SIGTERM: saved" in out, err[-2000:]
    step = checkpoint_step(run_dir / "last.ckpt")
    assert 5 <= step < 100000 and json.loads((run_dir / "metrics.json").read_text())["global_step"] == step
    assert main(["fit", *TINY, f"trainer.max_steps={step + 2}", f"hydra.run.dir={run_dir}", "ckpt_path=last"]) == 0
    assert json.loads((run_dir / "metrics.json").read_text())["global_step"] == step + 2


def test_sigterm_after_the_checkpoint_hook_still_saves_the_step(tmp_path, monkeypatch, capsys):
    """A SIGTERM landing between our batch-end hook and Lightning's own check (here: in the module's batch-end hook,
    which runs after the callbacks') stops the run through Lightning's exception; the step is saved all the same."""
    from jepa.objectives.base import JEPAObjective

    def terminate_at_step_3(self, outputs, batch, batch_idx):
        if self.global_step == 3:
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(JEPAObjective, "on_train_batch_end", terminate_at_step_3, raising=False)
    run_dir = tmp_path / "run"
    assert main(["fit", *TINY, "trainer.max_steps=50", "checkpoint.every_n_steps=100", f"hydra.run.dir={run_dir}"]) == 0
    assert f"SIGTERM: saved {run_dir / 'last.ckpt'} at step 3" in capsys.readouterr().out
    assert checkpoint_step(run_dir / "last.ckpt") == 3
    assert json.loads((run_dir / "metrics.json").read_text())["global_step"] == 3


def test_nonfinite_losses_skip_their_steps_then_stop_the_run_with_finite_weights(tmp_path, monkeypatch, capsys):
    from jepa.objectives.base import JEPAObjective

    real = JEPAObjective.compute_loss

    def poisoned(self, batch):  # every training loss from step 3 on is NaN
        out = real(self, batch)
        return out._replace(loss=out.loss * float("nan")) if self.training and self.global_step >= 3 else out

    monkeypatch.setattr(JEPAObjective, "compute_loss", poisoned)
    run_dir = tmp_path / "run"
    with pytest.warns(UserWarning, match=r"step 3: loss is nan on samples \[\d+, "):
        code = main(["fit", *TINY, "trainer.max_steps=50", "model.optim.max_nonfinite_steps=4",
                     f"hydra.run.dir={run_dir}"])  # fmt: skip
    assert code == 1 and "4 steps in a row had a non-finite loss" in capsys.readouterr().err
    state = torch.load(run_dir / "last.ckpt", map_location="cpu", weights_only=False)
    assert all(torch.isfinite(v).all() for v in state["state_dict"].values() if v.is_floating_point())
    assert json.loads((run_dir / "metrics.json").read_text())["nonfinite_steps"] == 4


def test_a_finished_run_resumed_probes_its_end_and_keeps_its_metrics(tmp_path, capsys):
    run_dir = tmp_path / "run"
    args = ["fit", *TINY, "trainer.max_steps=3", "final_probe=true", f"hydra.run.dir={run_dir}"]
    assert main(args) == 0
    first = json.loads((run_dir / "metrics.json").read_text())
    capsys.readouterr()
    assert main([*args, "ckpt_path=last"]) == 0  # nothing left to train
    assert "nothing left to train: the checkpoint is at step 3" in capsys.readouterr().out
    again = json.loads((run_dir / "metrics.json").read_text())
    assert again["global_step"] == 3 and again["train/loss"] == first["train/loss"]
    assert (again["probe_step_start"], again["probe_step_end"]) == (0, 3)  # the start is the fresh run's
    assert again["probe_top1_start"] == first["probe_top1_start"]
    assert abs(again["probe_top1_end"] - first["probe_top1_end"]) < 0.02  # the same weights probed again
