"""End to end: record PushT or Two-Room episodes, train a world model on them, plan with it (jepa fit / jepa
plan)."""

import json

import pytest

from jepa.cli import main

SMALL = [
    "experiment=wm/pusht_quickstart", "data.demo_episodes=6", "data.demo_steps=6", "data.batch_size=4",
    "data.num_workers=0", "data.val_fraction=0.34", "model.encoder.embed_dim=32", "model.encoder.depth=1",
    "model.encoder.num_heads=2", "model.predictor.embed_dim=32", "model.predictor.depth=1",
    "model.predictor.num_heads=2", "model.optim.warmup_steps=1", "model.optim.anneal_steps=2",
    "trainer.enable_progress_bar=false", "trainer.log_every_n_steps=1", "trainer.check_val_every_n_epoch=1",
]  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("wm")
    run_dir = root / "fit"
    assert main(["fit", *SMALL, f"data.demo_root={root / 'episodes'}", "trainer.max_steps=4",
                 f"hydra.run.dir={run_dir}"]) == 0  # fmt: skip
    return root, run_dir


def test_fit_trains_the_world_model_on_recorded_episodes(trained):
    root, run_dir = trained
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["global_step"] == 4
    assert 0 < metrics["train/teacher_forcing_loss"] < 2 and 0 < metrics["val/rollout_loss"] < 2
    assert (root / "episodes" / "episodes.csv").is_file() and (root / "episodes" / "preview.png").is_file()


def test_plan_runs_episodes_and_draws_them(trained, capsys):
    root, run_dir = trained
    plan_dir = root / "plan"
    args = ["plan", "experiment=wm/pusht_quickstart", f"world_model={run_dir / 'last.ckpt'}", "plan.episodes=2",
            "plan.goal_steps=2", "plan.max_steps=2", "plan.planner.samples=8", "plan.planner.elites=2",
            "plan.planner.iterations=2", "plan.planner.horizon=2", f"hydra.run.dir={plan_dir}"]  # fmt: skip
    assert main(args) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["plan"] == "cem" and line["episodes"] == 2
    assert 0 <= line["success_rate"] <= 1 and 0 <= line["random_success_rate"] <= 1
    assert line["agent_distance"] >= 0 and line["seconds_per_action"] > 0
    assert line["goal_agent_distance"] > 0 and 0 <= line["stay_success_rate"] <= 1
    assert len(line["planner_successes"]) == line["episodes"] == len(line["planner_agent_distances"])
    assert sum(line["planner_successes"]) / line["episodes"] == line["success_rate"]
    assert json.loads((plan_dir / "metrics.json").read_text()) == line
    from PIL import Image

    strip = Image.open(plan_dir / "plan.png")
    # per episode a planner row (3 views with a rule after each, a gap, the goal) and a random-policy row, each
    # with its success bar
    assert strip.size == (2 * (3 * (64 + 2) + 16 + 64), 2 * 2 * (2 * (64 + 3 + 2) + 8))
    gif = Image.open(plan_dir / "plan.gif")
    assert gif.n_frames == 3


def test_plan_errors(trained, tmp_path, capsys):
    root, run_dir = trained
    assert main(["plan", "experiment=wm/pusht_quickstart", f"hydra.run.dir={tmp_path}"]) == 2
    assert "needs world_model=CHECKPOINT" in capsys.readouterr().err
    assert main(["plan", "experiment=wm/pusht_quickstart", f"world_model={tmp_path / 'no.ckpt'}"]) == 2
    assert "no such checkpoint" in capsys.readouterr().err
    assert main(["plan", f"world_model={run_dir / 'last.ckpt'}", "plan.planner.method=ilqr"]) == 2
    assert "plan.planner.method='ilqr': choose one of cem, mppi" in capsys.readouterr().err
    assert main(["plan", f"world_model={run_dir / 'last.ckpt'}", "plan.env=maze"]) == 2
    assert "plan.env='maze': choose one of pusht, two_room, reacher" in capsys.readouterr().err


def test_inverse_dynamics_probe_on_the_episodes(trained, capsys):
    root, _ = trained
    run_dir = root / "inverse"
    args = ["probe", "inverse_dynamics", *SMALL, f"data.demo_root={root / 'episodes'}", "encoder=random",
            "probe_eval.inverse_dynamics.epochs=1", "probe_eval.holdout=0.25", f"hydra.run.dir={run_dir}"]  # fmt: skip
    assert main(args) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["probe"] == "inverse_dynamics" and line["num_heads"] == 2 and len(line["r2_per_dim"]) == 2
    assert line["num_pairs"] == 2 * 6  # the two held-out episodes' 6 frame pairs each
    assert line["r2"] <= 1 and line["mae"] > 0
    assert (run_dir / "probe.png").is_file()
    assert main(["probe", "inverse_dynamics", "experiment=ijepa/quickstart"]) == 2
    assert "needs trajectory data" in capsys.readouterr().err


def test_official_ac_experiment_carries_the_official_sizes():
    from jepa.compose import compose_run
    from jepa.config import OBJECTIVE_SCHEMAS, validated

    run, _ = compose_run(["experiment=wm/vjepa2_ac_vitg", "data.episodes=droid.csv"])
    model_schema, data_schema, _ = OBJECTIVE_SCHEMAS[run.objective]
    model, data = validated(model_schema, run.model, "model"), validated(data_schema, run.data, "data")
    assert run.objective == "world_model" and model.encoder_source == "vjepa2_vit_giant"
    p = model.predictor
    assert (p.embed_dim, p.depth, p.num_heads, p.action_dim, p.use_extrinsics) == (1024, 24, 16, 7, False)
    assert (data.crop_size, data.num_frames, data.batch_size, model.auto_steps, model.loss_exp) == (256, 8, 4, 2, 1.0)
    o = model.optim
    assert (o.start_lr, o.lr, o.final_lr, o.warmup_steps, o.anneal_steps, o.lr_decay) == (
        7.5e-5, 4.25e-4, 0.0, 4500, 4500, "constant")  # fmt: skip
    assert (o.weight_decay, o.final_weight_decay, run.trainer.max_steps) == (0.04, 0.04, 94500)


TWO_ROOM = [
    "experiment=wm/tworoom_quickstart", "data.demo_episodes=6", "data.demo_steps=44", "data.crop_size=32",
    "data.batch_size=4", "data.num_workers=0", "data.val_fraction=0.34", "model.encoder.embed_dim=32",
    "model.encoder.depth=1", "model.encoder.num_heads=2", "model.projector.hidden_dim=32",
    "model.projector.out_dim=16", "model.predictor.embed_dim=32", "model.predictor.depth=1",
    "model.predictor.num_heads=2", "model.optim.warmup_steps=1", "trainer.enable_progress_bar=false",
    "trainer.log_every_n_steps=1", "trainer.check_val_every_n_epoch=1",
]  # fmt: skip


def test_two_room_end_to_end_fit_and_plan(tmp_path, capsys):
    """The end-to-end model trains its encoder with its anti-collapse term on Two-Room episodes; the Two-Room
    protocol plans with action blocks of the model's frame step and ends an episode on success."""
    run_dir, plan_dir = tmp_path / "fit", tmp_path / "plan"
    assert main(["fit", *TWO_ROOM, f"data.demo_root={tmp_path / 'episodes'}", "trainer.max_steps=3",
                 f"hydra.run.dir={run_dir}"]) == 0  # fmt: skip
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["global_step"] == 3 and metrics["train/regularizer_loss"] > 0
    assert 1 <= metrics["val/rank_latent"] <= 16 and metrics["val/std_latent"] > 0
    capsys.readouterr()
    args = ["plan", *TWO_ROOM[:1], "data.crop_size=32", f"world_model={run_dir / 'last.ckpt'}", "plan.episodes=2",
            "plan.goal_steps=6", "plan.min_goal_distance=4", "plan.max_steps=12", "plan.planner.samples=8",
            "plan.planner.elites=2", "plan.planner.iterations=1", "plan.planner.horizon=2",
            f"hydra.run.dir={plan_dir}"]  # fmt: skip
    assert main(args) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["env"] == "two_room" and line["episodes"] == 2 and "block_distance" not in line
    assert 0 <= line["success_rate"] <= 1 and line["goal_agent_distance"] >= 4 and line["seconds_per_action"] > 0
    from PIL import Image

    assert 2 <= Image.open(plan_dir / "plan.gif").n_frames <= 13  # the start and at most 12 steps (fewer on success)


def test_reacher_end_to_end_fit_and_plan(tmp_path, capsys):
    """Reacher's episodes train the end-to-end model; its protocol plans from the last 2 views (the arm has
    velocity) and measures the fingertip's distance to the goal's in metres."""
    pytest.importorskip("dm_control")
    run_dir, plan_dir = tmp_path / "fit", tmp_path / "plan"
    small = ["experiment=wm/reacher_quickstart", *TWO_ROOM[1:], "data.demo_steps=20", "data.num_frames=3"]
    assert main(["fit", *small, f"data.demo_root={tmp_path / 'episodes'}", "trainer.max_steps=2", "model.auto_steps=2",
                 f"hydra.run.dir={run_dir}"]) == 0  # fmt: skip
    assert json.loads((run_dir / "metrics.json").read_text())["global_step"] == 2
    capsys.readouterr()
    assert main(["plan", "experiment=wm/reacher_quickstart", "data.crop_size=32",
                 f"world_model={run_dir / 'last.ckpt'}", "plan.episodes=2", "plan.goal_steps=10",
                 "plan.min_goal_distance=0.02", "plan.max_steps=8",
                 "plan.planner.samples=8", "plan.planner.elites=2", "plan.planner.iterations=1",
                 "plan.planner.horizon=2", f"hydra.run.dir={plan_dir}"]) == 0  # fmt: skip
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["env"] == "reacher" and line["episodes"] == 2 and "block_distance" not in line
    assert line["goal_agent_distance"] >= 0.02 and line["agent_distance"] < 0.5  # metres: the arm reaches 0.22
    assert 0 <= line["success_rate"] <= 1 and line["seconds_per_action"] > 0


def test_pusht_end_to_end_fit_trains_its_inverse_dynamics_head(tmp_path):
    """`wm/pusht_e2e` trains the encoder with VICReg and the inverse-dynamics head on pushing-policy episodes, and
    plans with every predicted block's distance to the goal."""
    from jepa.compose import compose_run

    run_dir = tmp_path / "fit"
    small = ["experiment=wm/pusht_e2e", *TWO_ROOM[1:], "data.demo_steps=20", "data.num_frames=3"]
    assert main(["fit", *small, f"data.demo_root={tmp_path / 'episodes'}", "trainer.max_steps=2", "model.auto_steps=2",
                 f"hydra.run.dir={run_dir}"]) == 0  # fmt: skip
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["global_step"] == 2 and metrics["train/inverse_dynamics_loss"] > 0
    assert metrics["train/regularizer_loss"] > 0 and 1 <= metrics["val/rank_latent"] <= 16
    run, _ = compose_run(["experiment=wm/pusht_e2e"])
    assert run.model["inverse_dynamics_weight"] == 1.0 and run.plan.planner.goal_cost == "every_step"
