"""Two-process DDP on CPU (gloo): both ranks step with the same averaged gradients and hold the same EMA target
encoder, equal to one process that sees the same global batch (as two accumulated halves)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.jepa.test_cli import TINY

SCRIPT = Path(__file__).with_name("ddp_run.py")
STEPS = 3
RUN = [*TINY, "data.batch_size=8", f"trainer.max_steps={STEPS}", "trainer.accelerator=cpu",
       "trainer.check_val_every_n_epoch=null", "model.probe.num_classes=0"]  # fmt: skip


def record(out: Path, *overrides: str) -> None:
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": str(SCRIPT.parents[2]), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(SCRIPT), str(out), *RUN, f"hydra.run.dir={out / 'run'}", *overrides],
                          env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.skipif(not torch.distributed.is_gloo_available(), reason="needs torch.distributed with gloo")
def test_two_ddp_ranks_match_each_other_and_one_process_with_the_global_batch(tmp_path):
    record(tmp_path / "ddp", "trainer.strategy=ddp", "trainer.devices=2")
    record(tmp_path / "single", "trainer.devices=1", "trainer.accumulate_grad_batches=2")
    ranks = [torch.load(tmp_path / "ddp" / f"rank{r}.pt", weights_only=True) for r in range(2)]
    single = torch.load(tmp_path / "single" / "rank0.pt", weights_only=True)
    for run in (*ranks, single):
        assert len(run["grads"]) == len(run["targets"]) == STEPS
    for step in range(STEPS):
        for key, grad in ranks[0]["grads"][step].items():
            assert torch.equal(ranks[1]["grads"][step][key], grad), f"step {step}: ranks differ on {key}"
            torch.testing.assert_close(grad, single["grads"][step][key], rtol=1e-4, atol=1e-7, msg=key)
        for key, weight in ranks[0]["targets"][step].items():
            assert torch.equal(ranks[1]["targets"][step][key], weight), f"step {step}: EMA differs on {key}"
            torch.testing.assert_close(weight, single["targets"][step][key], rtol=1e-5, atol=1e-6, msg=key)
    moved = [(ranks[0]["targets"][-1][k] - ranks[0]["targets"][0][k]).abs().max() for k in ranks[0]["targets"][0]]
    assert max(moved) > 0, "the EMA target moved: the comparison is not between untouched copies"
