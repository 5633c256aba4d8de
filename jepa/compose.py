"""Composing a run: the Hydra config tree of ``configs/`` (groups model, data, mask, trainer; an experiment sets
them all) checked against the one schema, :class:`jepa.config.RunConfig`, and the messages its errors give."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any


def list_experiments() -> list[str]:
    """Names of the experiments shipped in ``configs/experiment`` (``ijepa/quickstart``, ...)."""
    root = resources.files("configs").joinpath("experiment")
    names: list[str] = []

    def walk(node: Any, prefix: str) -> None:
        for child in node.iterdir():
            if child.is_dir():
                walk(child, f"{prefix}{child.name}/")
            elif child.name.endswith(".yaml"):
                names.append(prefix + child.name[: -len(".yaml")])

    walk(root, "")
    return sorted(names)


def register_configs() -> None:
    """Register the run schema, which ``configs/config.yaml`` starts from, in Hydra's ConfigStore."""
    from hydra.core.config_store import ConfigStore

    from jepa.config import RunConfig

    ConfigStore.instance().store(name="run_schema", node=RunConfig)


def to_run_config(cfg: Any) -> Any:
    """The :class:`jepa.config.RunConfig` object of a composed tree (without its ``hydra`` node)."""
    from omegaconf import OmegaConf

    return OmegaConf.to_object(cfg)


def compose_run(overrides: Sequence[str]) -> tuple[Any, Path]:
    """The validated :class:`jepa.config.RunConfig` for ``overrides`` and its run directory."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from hydra.errors import HydraException
    from omegaconf import open_dict
    from omegaconf.errors import OmegaConfBaseException

    from jepa.errors import InputError

    register_configs()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module="configs", version_base="1.3"):
            cfg = compose("config", overrides=list(overrides), return_hydra_config=True)
        HydraConfig.instance().set_config(cfg)
        run_dir = Path(cfg.hydra.run.dir)
        with open_dict(cfg):
            del cfg["hydra"]
        run = to_run_config(cfg)
    except (HydraException, OmegaConfBaseException) as err:
        raise InputError(explain(err)) from err
    finally:
        GlobalHydra.instance().clear()
    return run, run_dir


def explain(err: BaseException) -> str:
    """One readable message from a Hydra/OmegaConf error and its cause (minus Hydra's '+key' hint)."""
    from omegaconf.errors import MissingMandatoryValue

    lines = [line for line in str(err).splitlines() if line and not line.startswith("To append")]
    cause = err.__cause__
    if isinstance(err, MissingMandatoryValue) or isinstance(cause, MissingMandatoryValue):
        key = getattr(err, "full_key", None) or getattr(cause, "full_key", "")
        return f"{key} is required by this experiment: pass {key}=..."
    if cause is not None:
        lines.append(str(cause).splitlines()[0])
    if "experiment" in str(err) and "Could not find" in str(err):
        lines = [lines[0], "available experiments: " + ", ".join(list_experiments())]
    return "\n".join(lines)
