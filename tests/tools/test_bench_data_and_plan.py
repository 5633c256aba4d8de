"""tools/bench_data.py and tools/bench_plan.py: CPU smoke runs (no timing asserts)."""

from __future__ import annotations

import json
import math

from jepa.data.video_writer import write_mp4
from tests.jepa.data.conftest import moving_square
from tests.tools.conftest import load_tool


def test_bench_data_times_each_backend_and_worker_count(tmp_path, capsys) -> None:
    for i in range(4):
        write_mp4(tmp_path / f"v{i}.mp4", moving_square(seed=i), fps=10)
    (tmp_path / "train.csv").write_text("".join(f"{tmp_path / f'v{i}.mp4'} {i % 2}\n" for i in range(4)))
    overrides = ["experiment=vjepa2/quickstart", "data.demo_root=null", f"data.datasets=[{tmp_path / 'train.csv'}]",
                 "data.crop_size=32", "data.batch_size=2", "data.dataset_fpcs=[4]", "data.fps=null",
                 "data.frame_step=1", "model.encoder.num_frames=4"]  # fmt: skip
    load_tool("bench_data").main(["--workers", "0", "1", "--batches", "3", *overrides])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["backend"], r["workers"]) for r in lines] == [("decord", 0), ("decord", 1), ("pyav", 0), ("pyav", 1)]
    for r in lines:
        assert r["clips"] == 6, "3 batches of 2 clips, the loader restarted when an epoch (2 batches) ends"
        assert r["clips_per_s"] > 0 and math.isclose(r["clips_per_s"], 6 / r["seconds"], rel_tol=1e-2)


def test_bench_plan_reports_seconds_per_action_for_the_search_it_ran(capsys) -> None:
    load_tool("bench_plan").main(["--actions", "2", "plan.planner.samples=8", "plan.planner.iterations=2",
                                  "plan.planner.elites=2", "plan.planner.horizon=2"])  # fmt: skip
    (result,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (result["method"], result["samples"], result["iterations"], result["horizon"]) == ("cem", 8, 2, 2)
    assert result["seconds_per_action"] > 0 and result["device"] == "cpu"
    assert result["encoder_params_m"] > 0 and result["predictor_params_m"] > 0


def test_a_config_error_is_one_line_not_a_traceback() -> None:
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).parents[2] / "tools" / "bench_data.py"
    out = subprocess.run([sys.executable, str(script), "trainer.nope=1", "--workers", "0"], capture_output=True,
                         text=True)  # fmt: skip
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.startswith("bench_data.py: error: Could not override 'trainer.nope'")
