"""``jepa convert`` and ``jepa features`` on the official fixtures."""

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from encoders.pretrained import load_pretrained
from jepa.cli import main
from jepa.data.video_writer import write_mp4
from jepa.features import read_input
from tests.conftest import OFFICIAL, assert_official_close, load_official
from tests.jepa.data.conftest import moving_square

VJEPA2 = str(OFFICIAL / "vjepa2" / "checkpoint.pt")
FACTS = ["num_heads=2", "img_size=48", "num_frames=4"]


def test_convert_then_load_round_trips_to_identical_outputs(tmp_path):
    _, io, _ = load_official("vjepa2")
    assert main(["convert", VJEPA2, str(tmp_path / "out"), *FACTS]) == 0
    converted = load_pretrained(tmp_path / "out")
    original = load_pretrained(VJEPA2, num_heads=2, img_size=48, num_frames=4)
    with torch.no_grad():
        assert torch.equal(converted(io["x"]), original(io["x"]))
        assert_official_close(converted(io["x"]), io["target_enc_out_full"])


def test_features_of_videos_and_images(tmp_path):
    write_mp4(tmp_path / "a.mp4", moving_square(num_frames=12, size=48), fps=10)
    Image.fromarray(moving_square(size=48)[0]).save(tmp_path / "b.png")
    inputs = [str(tmp_path / "a.mp4"), str(tmp_path / "b.png")]
    out = tmp_path / "feats.safetensors"
    assert main(["features", VJEPA2, *inputs, "--out", str(out), "--frame-step", "2", *FACTS]) == 0
    saved = load_file(str(out))
    assert saved["pooled"].shape == (2, 48) and saved["tokens"].shape == (2, 2 * 36, 48)
    torch.testing.assert_close(saved["pooled"], saved["tokens"].mean(1))
    encoder = load_pretrained(VJEPA2, num_heads=2, img_size=48, num_frames=4)
    with torch.no_grad():
        expected = encoder(torch.stack([read_input(tmp_path / "a.mp4", encoder, 4, 2),
                                        read_input(tmp_path / "b.png", encoder, 4, 2)]))  # fmt: skip
    torch.testing.assert_close(saved["tokens"], expected)
    assert not torch.allclose(saved["pooled"][0], saved["pooled"][1])
    npy = tmp_path / "feats.npy"
    assert main(["features", VJEPA2, inputs[0], "--out", str(npy), "--frame-step", "2", *FACTS]) == 0
    assert np.load(npy).shape == (1, 48) and np.load(tmp_path / "feats_tokens.npy").shape == (1, 72, 48)
    assert (tmp_path / "feats.txt").read_text().split() == [inputs[0]]


@pytest.mark.parametrize("args, message", [
    (["convert", "/no/such.pt", "out"], "/no/such.pt: no such file or folder"),
    (["convert", VJEPA2, "out", "num_heads"], "expected KEY=VALUE"),
    (["convert", VJEPA2, "out", "embed_dim=64", *FACTS], "override embed_dim=64 contradicts"),
])  # fmt: skip
def test_tool_errors_are_one_line(tmp_path, capsys, args, message):
    assert main([args[0], args[1], str(tmp_path / args[2]), *args[3:]]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"jepa {args[0]}: error:") and message in err
