"""``jepa plan``: the goal-reaching protocol of ``plan.env`` with a world-model checkpoint; ``metrics.json``,
``plan.png`` and ``plan.gif``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any


def load_world_model(path: str) -> Any:
    """The :class:`LatentWorldModel` of a ``jepa fit experiment=wm/...`` checkpoint, in eval mode."""
    import torch

    from jepa.errors import InputError
    from jepa.objectives import WorldModel

    if not Path(path).expanduser().is_file():
        raise InputError(f"world_model={path}: no such checkpoint (train one with jepa fit experiment=wm/...)")
    ckpt = torch.load(Path(path).expanduser(), map_location="cpu", weights_only=False)
    hparams = ckpt.get("hyper_parameters", {}) if isinstance(ckpt, dict) else {}
    if "predictor" not in hparams or "auto_steps" not in hparams:
        raise InputError(f"world_model={path}: not a world-model checkpoint (no action-conditioned predictor in it)")
    module = WorldModel(**hparams)
    module.load_state_dict(ckpt["state_dict"])
    return module.model.eval()


def execute_plan(run: Any, run_dir: Path) -> dict[str, Any]:
    """``jepa plan``: the goal-reaching protocol with ``run.world_model``; ``metrics.json``, ``plan.png``,
    ``plan.gif`` and one JSON line, last."""
    import lightning as L
    from omegaconf import OmegaConf

    from jepa.errors import InputError
    from jepa.envs.pusht import DATA_POLICIES
    from jepa.planning.protocol import GOAL_REACHING, plot_rollouts, summary, write_gif
    from jepa.planning.planners import PLANNERS

    L.seed_everything(run.seed)
    if not run.world_model:
        raise InputError("jepa plan needs world_model=CHECKPOINT (from jepa fit experiment=wm/pusht_quickstart)")
    if run.plan.planner.method not in PLANNERS:
        raise InputError(f"plan.planner.method={run.plan.planner.method!r}: choose one of {', '.join(PLANNERS)}")
    if run.plan.env not in GOAL_REACHING:
        raise InputError(f"plan.env={run.plan.env!r}: choose one of {', '.join(GOAL_REACHING)}")
    if run.plan.env == "pusht" and run.plan.goal_policy not in DATA_POLICIES:
        raise InputError(f"plan.goal_policy={run.plan.goal_policy!r}: choose one of {', '.join(DATA_POLICIES)}")
    model = load_world_model(run.world_model)
    run_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(OmegaConf.structured(run), run_dir / "config.yaml")
    started = time.perf_counter()
    outcome = GOAL_REACHING[run.plan.env](model, run.plan, run.seed)
    seconds = time.perf_counter() - started
    planner, random, stay = (summary(outcome[k]) for k in ("planner", "random", "stay"))
    block = run.plan.planner.action_block
    plans = sum(-(-(len(r.frames) - 1) // block) for r in outcome["planner"])  # replannings (a plan per block)
    metrics = {"plan": run.plan.planner.method, "env": run.plan.env, "world_model": run.world_model,
               "episodes": run.plan.episodes, **planner, **{f"random_{k}": v for k, v in random.items()},
               "stay_success_rate": stay["success_rate"],
               **{f"goal_{k}": v for k, v in stay.items() if k != "success_rate"},
               "seconds_per_action": round(seconds / max(plans, 1), 3),
               "planner_successes": [int(r.success) for r in outcome["planner"]],  # per pair: runs compare on subsets
               "planner_agent_distances": [round(r.agent, 2) for r in outcome["planner"]]}  # fmt: skip
    plot_rollouts(run_dir / "plan.png", outcome, run.plan.strips)
    write_gif(run_dir / "plan.gif", outcome["planner"][0], outcome["goals"][0])
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"run directory: {run_dir.resolve()}  (config.yaml, metrics.json, plan.gif, plan.png)")
    print(json.dumps(metrics))
    return metrics
