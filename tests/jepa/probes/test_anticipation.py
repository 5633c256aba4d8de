"""The action-anticipation probe: EK100-style annotations, future tokens from the predictor, focal loss, class-mean
recall@5, and ``jepa probe anticipation`` end to end."""

import json

import pytest
import torch

from encoders.vit import create_encoder
from jepa.probes.anticipation import focal_loss, mean_class_recall
from jepa.cli import main
from jepa.data.anticipation import ActionSample, AnticipationDataset, read_annotations
from jepa.data.video_writer import write_mp4
from jepa.data.video_transforms import ClipTransform
from jepa.errors import InputError
from predictors.anticipation import AnticipativeEncoder
from predictors.mask_token import MaskTokenPredictor
from tests.jepa.data.conftest import frame_numbers, moving_square
from tests.jepa.test_cli_video import SMALL


def test_focal_loss_down_weights_easy_examples():
    logits, labels = torch.tensor([[4.0, -4.0, 0.0], [0.0, 1.0, -1.0]]), torch.tensor([0, 2])
    p = logits.sigmoid()
    target = torch.nn.functional.one_hot(labels, 3).float()
    p_t = p * target + (1 - p) * (1 - target)
    alpha_t = 0.25 * target + 0.75 * (1 - target)
    expected = (-alpha_t * (1 - p_t) ** 2 * p_t.log()).sum() / 2
    torch.testing.assert_close(focal_loss(logits, labels), expected)


def test_mean_class_recall_weighs_every_class_alike():
    down, up = torch.arange(7, 0, -1.0), torch.arange(1, 8.0)  # top-5 classes: 0..4, and 2..6
    scores, labels = torch.stack([down, down, down, down, up]), torch.tensor([0, 0, 0, 5, 5])
    # class 0: 3 of 3 in the top 5; class 5: 1 of 2. Mean over classes 0.75, where 4 of 5 samples hit.
    assert mean_class_recall(scores, labels, k=5) == pytest.approx(0.75)
    assert mean_class_recall(scores, labels, k=1) == pytest.approx(0.5)


def test_future_positions_continue_the_clip_grid():
    encoder = create_encoder("tiny", img_size=16, patch_size=8, num_frames=4, embed_dim=32, depth=1, num_heads=2)
    predictor = MaskTokenPredictor(32, 16, 8, num_frames=4, tubelet_size=2, predictor_embed_dim=16, depth=1,
                                   num_heads=2, use_rope=True)  # fmt: skip
    model = AnticipativeEncoder(encoder, predictor, fps=4, num_output_frames=2).eval()
    # 8 clip tokens (2 time slots of 2x2); 1 s at 4 fps = 2 tubelets ahead: slot 2 + 2 = 4, tokens 16..19
    positions = model.target_positions(8, torch.tensor([1.0, 0.0]))
    assert positions.tolist() == [[16, 17, 18, 19], [8, 9, 10, 11]]
    clips = torch.randn(2, 3, 4, 16, 16)
    out = model(clips, torch.tensor([1.0, 0.0]))
    assert out.shape == (2, 12, 32)
    torch.testing.assert_close(out[:, :8], encoder(clips))
    context = torch.arange(8).expand(2, 8)
    torch.testing.assert_close(out[1:, 8:], predictor(encoder(clips), context, positions)[1:])
    sincos = MaskTokenPredictor(32, 16, 8, num_frames=4, tubelet_size=2, predictor_embed_dim=16, depth=1,
                                num_heads=2)  # fmt: skip
    with pytest.raises(ValueError, match="sin-cos positions cover 8 tokens; anticipating 1s ahead needs 20"):
        AnticipativeEncoder(encoder, sincos, fps=4).target_positions(8, torch.tensor([1.0]))


@pytest.fixture
def ek100(tmp_path):
    """Moving-square videos (20 frames at 10 fps) in the EK100 layout and annotation files (verb: the video's parity,
    noun: the row's third); val has one action that never occurs in training."""
    for i in range(4):
        folder = tmp_path / "videos" / f"P0{i % 2}" / "videos"
        folder.mkdir(parents=True, exist_ok=True)
        write_mp4(folder / f"P0{i % 2}_{i}.MP4", moving_square(seed=i), fps=10)
    header = "narration_id,participant_id,video_id,start_timestamp,stop_timestamp,verb_class,noun_class\n"
    rows = [f"n{i},P0{i % 2},P0{i % 2}_{i},00:00:01.20,00:00:01.90,{i % 2},{j % 3}\n" for j in range(3)
            for i in range(4)]  # fmt: skip
    (tmp_path / "train.csv").write_text(header + "".join(rows))
    (tmp_path / "val.csv").write_text(header + "".join(rows[:4]) + "n9,P01,P01_1,00:00:01.20,00:00:01.90,7,0\n")
    return tmp_path


def test_annotations_are_read_by_column_name(ek100):
    rows = read_annotations(ek100 / "train.csv", ek100 / "videos")
    assert rows[1] == {"path": str(ek100 / "videos" / "P01" / "videos" / "P01_1.MP4"), "start": 1.2, "stop": 1.9,
                       "in_frames": False, "verb": 1, "noun": 0, "line": 3}  # fmt: skip
    (ek100 / "bad.csv").write_text("video_id,start_timestamp,verb\nP01_1,00:00:01.00,3\n")
    with pytest.raises(InputError, match=r"bad.csv: missing column verb_class, noun_class, start_frame\+stop_frame"):
        read_annotations(ek100 / "bad.csv")


def test_clips_end_the_anticipation_time_before_the_anticipation_point(ek100):
    sample = ActionSample(str(ek100 / "videos" / "P01" / "videos" / "P01_1.MP4"), 0, 0, 2, 12.0, 19.0, True)

    def frames(time, point, fps=5.0, fpc=4):
        data = AnticipationDataset([sample], fpc, fps, ClipTransform(16, False), time, point, False, "pyav")
        return frame_numbers(data.read_frames(sample, None)[0])

    # the stop (frame 19) minus 0.5 s at 10 fps = frame 14; 4 frames every int(10 / 5) = 2 before it
    assert frames((0.5, 0.5), (0.0, 0.0)) == [6, 8, 10, 12]
    # the start (frame 12) minus 1 s = frame 2: frames before the video's start repeat frame 0
    assert frames((1.0, 1.0), (1.0, 1.0)) == [0, 0, 0, 0]
    assert frames((0.0, 0.0), (0.5, 0.5), fps=10) == [11, 12, 13, 14]


def test_jepa_probe_anticipation_runs_end_to_end(ek100, tmp_path, capsys):
    run = tmp_path / "run"
    args = ["probe", "anticipation", *SMALL, f"data.datasets=[{ek100 / 'train.csv'}]", "data.dataset_fpcs=[4]",
            f"data.val_datasets=[{ek100 / 'val.csv'}]", "data.fps=5", "model.encoder.num_frames=4",
            f"probe_eval.anticipation.video_root={ek100 / 'videos'}", "probe_eval.anticipation.epochs=2",
            "probe_eval.anticipation.anticipation_time=0.5", "probe_eval.anticipation.num_probe_blocks=1",
            "probe_eval.anticipation.lrs=[0.005,0.001]", "probe_eval.anticipation.weight_decays=[0.01]",
            "encoder=random", f"hydra.run.dir={run}"]  # fmt: skip
    assert main(args) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["probe"] == "anticipation" and last["num_heads"] == 2 and last["num_test"] == 4
    assert (last["num_verbs"], last["num_nouns"], last["num_classes"]) == (2, 3, 6)
    assert last["dropped_val_actions"] == 1, "verb 7 never occurs in training: dropped, as the released code does"
    assert 0 <= last["action_recall5"] <= 1 and last["verb_recall5"] == 1.0, "2 verbs: both are always in the top 5"
    assert json.loads((run / "metrics.json").read_text()) == last and (run / "probe.png").is_file()
