"""tools/bench_data.py and tools/bench_plan.py: CPU smoke runs (no timing asserts)."""

from __future__ import annotations

import json
import math

from jepa.data.video_writer import write_mp4
from tests.jepa.data.conftest import moving_square
from tests.tools.conftest import load_tool


def small_list(tmp_path) -> list[str]:
    """Overrides for a vjepa2 quickstart on four 20-frame videos of 32x32."""
    for i in range(4):
        write_mp4(tmp_path / f"v{i}.mp4", moving_square(seed=i), fps=10)
    (tmp_path / "train.csv").write_text("".join(f"{tmp_path / f'v{i}.mp4'} {i % 2}\n" for i in range(4)))
    return ["experiment=vjepa2/quickstart", "data.demo_root=null", f"data.datasets=[{tmp_path / 'train.csv'}]",
            "data.crop_size=32", "data.batch_size=2", "data.dataset_fpcs=[4]", "data.fps=null",
            "data.frame_step=1", "model.encoder.num_frames=4"]  # fmt: skip


def test_bench_data_times_each_backend_and_worker_count(tmp_path, capsys) -> None:
    overrides = small_list(tmp_path)
    load_tool("bench_data").main([*overrides, "--workers", "0", "1", "--batches", "3", "--backends", "decord", "pyav"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["backend"], r["workers"]) for r in lines] == [("decord", 0), ("decord", 1), ("pyav", 0), ("pyav", 1)]
    for r in lines:
        assert r["clips"] == 6, "3 batches of 2 clips, the loader restarted when an epoch (2 batches) ends"
        assert r["clips_per_s"] > 0 and math.isclose(r["clips_per_s"], 6 / r["seconds"], rel_tol=1e-2)


def test_bench_data_stages_add_up_to_the_cpu_time_per_clip(tmp_path, capsys) -> None:
    overrides = small_list(tmp_path)
    load_tool("bench_data").main([*overrides, "--stages", "--clips", "4", "--backends", "pyav", "torchcodec"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["backend"] == "pyav" and lines[0]["mode"] == "stages"
    stages = ("open", "decode", "crop_resize", "normalise", "masks_collate")
    times = [lines[0][f"{s}_ms"] for s in stages]
    assert all(t >= 0 for t in times) and lines[0]["decode_ms"] > 0
    assert math.isclose(lines[0]["cpu_ms_per_clip"], sum(times), abs_tol=0.2)
    assert math.isclose(lines[0]["clips_per_s_per_core"], 1000 / lines[0]["cpu_ms_per_clip"], rel_tol=0.02)
    # normalising on the device takes the normalise stage off the CPU (ms are rounded to 0.1, rates to 0.01)
    assert math.isclose(lines[0]["cpu_ms_per_clip_normalised_on_device"],
                        lines[0]["cpu_ms_per_clip"] - lines[0]["normalise_ms"], abs_tol=0.11)  # fmt: skip
    assert lines[0]["clips_per_s_per_core_normalised_on_device"] > lines[0]["clips_per_s_per_core"]
    assert lines[1]["backend"] == "torchcodec" and ("skipped" in lines[1] or lines[1]["decode_ms"] > 0)


def test_make_test_videos_writes_camera_like_h264(tmp_path) -> None:
    import av

    listing = load_tool("make_test_videos").make_test_videos(tmp_path, count=2, width=96, height=64, seconds=1.2,
                                                            fps=10, keyframe_interval=5, bit_rate=400_000)  # fmt: skip
    lines = listing.read_text().splitlines()
    assert [line.rsplit(" ", 1)[1] for line in lines] == ["0", "1"]
    with av.open(lines[0].rsplit(" ", 1)[0]) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height, stream.frames) == (96, 64, 12)
        keyframes = [i for i, p in enumerate(p for p in container.demux(stream) if p.size) if p.is_keyframe]
    assert keyframes == [0, 5, 10]


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
