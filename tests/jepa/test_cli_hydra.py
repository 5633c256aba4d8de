"""The ``jepa`` command as a Hydra application: every subcommand's ``--help`` / ``-h``, ``--cfg job``, ``-m``
sweeps into their own run directories, and the submitit launcher's config."""

import subprocess
import sys

import pytest
import yaml

from jepa.cli import main
from jepa.compose import list_experiments
from tests.jepa.test_cli import TINY

HYDRA_COMMANDS = [["fit"], ["validate"], ["test"], ["probe", "linear"], ["probe", "inverse_dynamics"], ["plan"],
                  ["viz", "masks"]]  # fmt: skip
PLAIN_COMMANDS = [["probe"], ["viz"], ["viz", "pca"], ["viz", "curves"], ["convert"], ["features"], ["prepare"]]


def run_main(args: list[str]) -> int:
    """``main(args)``'s exit status, argparse's ``--help`` (which exits) included."""
    try:
        return main(args)
    except SystemExit as exit_:
        return exit_.code or 0


@pytest.mark.parametrize("flag", ["--help", "-h"])
@pytest.mark.parametrize("command", HYDRA_COMMANDS, ids=" ".join)
def test_hydra_commands_answer_help_with_their_usage_groups_and_keys(command, flag, capsys):
    assert run_main([*command, flag]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: jepa {command[0]}")
    assert "== Configuration groups (GROUP=OPTION) ==" in out and "experiment/ijepa: quickstart" in out
    config = yaml.safe_load(out.split("== Config (KEY=VALUE overrides any key) ==")[1].split("Hydra's own")[0])
    assert config["trainer"]["max_steps"] == 1000 and config["objective"] == "ijepa"  # ijepa/quickstart's


@pytest.mark.parametrize("flag", ["--help", "-h"])
@pytest.mark.parametrize("command", PLAIN_COMMANDS, ids=" ".join)
def test_other_commands_answer_help_with_their_usage(command, flag, capsys):
    assert run_main([*command, flag]) == 0
    out = capsys.readouterr().out
    assert f"jepa {command[0]}" in out.splitlines()[0] and "usage:" in out


def test_top_level_help_lists_every_command_and_experiment():
    out = subprocess.run([sys.executable, "-m", "jepa", "--help"], capture_output=True, text=True, check=True)
    for command in ("fit", "validate", "test", "probe", "plan", "viz masks", "convert", "features", "prepare"):
        assert f"jepa {command} " in out.stdout
    for name in ("ijepa/quickstart", "vjepa2/quickstart", "wm/pusht_e2e", "wm/tworoom_quickstart"):
        assert name in list_experiments() and f"  {name}\n" in out.stdout


def test_cfg_job_prints_the_composed_config_and_runs_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["fit", "experiment=vjepa2/quickstart", "trainer.max_steps=7", "--cfg", "job"]) == 0
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["objective"] == "vjepa" and config["trainer"]["max_steps"] == 7
    assert config["model"]["encoder"]["embed_dim"] == 128 and not (tmp_path / "runs").exists()


def test_multirun_sweeps_into_one_run_directory_per_job(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["fit", "-m", "experiment=ijepa/quickstart", *TINY, "trainer.max_steps=2", "model.optim.lr=1e-3,2e-3",
            f"hydra.sweep.dir={sweep}"]  # fmt: skip
    assert main(args) == 0
    for job, lr in (("0", 1e-3), ("1", 2e-3)):
        config = yaml.safe_load((sweep / job / "config.yaml").read_text())
        assert config["model"]["optim"]["lr"] == lr and (sweep / job / "last.ckpt").is_file()
        assert (sweep / job / ".hydra" / "overrides.yaml").is_file()


def test_a_sweep_point_the_schema_refuses_is_one_clear_error(tmp_path, capsys):
    args = ["fit", "-m", *TINY, "trainer.max_steps=1", "model.optim.lr=1e-3,fast", f"hydra.sweep.dir={tmp_path}"]
    assert main(args) == 2
    assert "model.optim.lr" in capsys.readouterr().err


def test_submitit_slurm_launcher_composes_without_slurm():
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    from jepa.compose import register_configs

    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="configs", version_base="1.3"):
        cfg = compose("config", ["hydra/launcher=submitit_slurm", "hydra.launcher.nodes=2"], return_hydra_config=True)
    GlobalHydra.instance().clear()
    assert cfg.hydra.launcher._target_.endswith("SlurmLauncher") and cfg.hydra.launcher.nodes == 2
    assert cfg.hydra.sweep.dir.startswith("runs/sweeps/")
