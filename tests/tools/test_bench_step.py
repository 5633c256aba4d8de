"""tools/bench_step.py: a CPU smoke run (no timing asserts), and its plain-PyTorch baseline computes our step."""

from __future__ import annotations

import json
import math
from types import ModuleType

import pytest
import torch

from tests.tools.conftest import load_tool


@pytest.fixture(scope="module")
def bench_step() -> ModuleType:
    return load_tool("bench_step")


PRESET_SHAPES = {  # encoder size, patch, frames, crop and batch each preset must compose to
    "vjepa2_vitl16": ("large", 16, 16, 256, 24),
    "ijepa_vith14": ("huge", 14, 1, 224, 128),
    "cpu_tiny": ("tiny", 8, 8, 64, 16),
    "cpu_tiny_image": ("tiny", 4, 1, 32, 32),
}


def test_every_preset_composes_to_its_official_shapes(bench_step: ModuleType) -> None:
    assert set(bench_step.PRESETS) == set(PRESET_SHAPES)
    for preset, expected in PRESET_SHAPES.items():
        _, model, data, _ = bench_step.preset_configs(bench_step.PRESETS[preset])
        crop = data.crop_size if hasattr(data, "crop_size") else data.img_size
        frames = data.dataset_fpcs[0] if hasattr(data, "dataset_fpcs") else 1
        enc = model.encoder
        assert (enc.size, enc.patch_size, frames, crop, data.batch_size) == expected, preset


@pytest.mark.parametrize("preset", ["cpu_tiny", "cpu_tiny_image"])
def test_plain_pytorch_step_starts_from_our_weights_and_gives_our_loss(bench_step: ModuleType, preset: str) -> None:
    module, collate, shape, _ = bench_step.build_objective(bench_step.PRESETS[preset] + ["data.batch_size=3"])
    batch = collate([(x, 0) for x in torch.randn(3, *shape)])
    plain = bench_step.PlainStep(module)
    ours = module.compute_loss(batch).loss
    theirs = torch.cat([plain.loss(g)[None] for g in batch["groups"]]).mean()
    torch.testing.assert_close(theirs, ours, rtol=1e-5, atol=1e-6)
    ours.backward()
    theirs.backward()
    torch.testing.assert_close(plain.pred_out.weight.grad, module.predictor.predictor_proj.weight.grad,
                               rtol=1e-4, atol=1e-6)  # fmt: skip


def test_bench_step_prints_one_json_line_per_implementation(bench_step: ModuleType, capsys) -> None:
    bench_step.main(["--preset", "cpu_tiny", "--impl", "both", "--steps", "2", "--warmup", "1", "data.batch_size=2"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["impl"] for r in lines] == ["ours", "plain"]
    ours, plain = lines
    for r in lines:
        assert r["preset"] == "cpu_tiny" and r["batch"] == 2 and r["device"] == "cpu"
        assert r["step_ms"] > 0 and math.isfinite(r["loss"]) and r["peak_gib"] > 0
        assert r["samples_per_s"] == pytest.approx(2 / r["step_ms"] * 1e3, rel=1e-2)
    assert ours["backend"] == "sdpa" and ours["context_tokens"] == plain["context_tokens"] > 0
    # packing never computes on padding: our step counts no more FLOPs than the padded one, and both count some
    assert 0 < ours["flops_per_step"] <= plain["flops_per_step"]


def test_plain_baseline_refuses_rope(bench_step: ModuleType) -> None:
    with pytest.raises(SystemExit, match="RoPE"):
        bench_step.main(["--preset", "cpu_tiny", "--impl", "plain", "--steps", "1", "--warmup", "0",
                         "model.encoder.use_rope=true", "data.batch_size=2"])  # fmt: skip
