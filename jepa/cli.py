"""The ``jepa`` command. ``fit | validate | test | probe KIND | plan | viz masks`` compose a run from ``configs/``
and run through Hydra's own application entry, so ``--help``, ``--cfg job``, ``--info``, ``-m`` sweeps, launchers
(``hydra/launcher=submitit_slurm``) and shell completion work as Hydra users expect; ``convert``, ``features``,
``prepare`` and ``viz pca | curves`` take plain arguments. Bad input is one line on stderr and exit status 2."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from jepa.compose import compose_run, explain, list_experiments, register_configs, to_run_config

COMMANDS = ("fit", "validate", "test")
PROBES = ("linear", "knn", "attentive", "anticipation", "inverse_dynamics")
VIZ = ("masks", "pca", "curves")
TOOLS = ("convert", "features", "prepare")
RUN_KEYS = """A run is composed from configs/ (groups model, data, mask, trainer; an experiment sets them all); override
any key below, e.g. trainer.max_steps=200 data.root=DIR model.encoder.size=small. hydra.run.dir=DIR picks the run
directory; --cfg job prints the composed config; -m runs a sweep (model.optim.lr=1e-3,2e-3), one run directory per
job, on hydra/launcher=basic (default) or submitit_slurm (pip install "jepa-toolkit[slurm]")."""
HELP = {
    "fit": """usage: jepa fit [experiment=NAME] [KEY=VALUE ...] [--cfg job|all] [-m]

Train the experiment's objective with Lightning. ckpt_path=FILE resumes a run (last: this run directory's
last.ckpt); init_weights=FILE starts from a checkpoint's weights.""",
    "validate": """usage: jepa validate [experiment=NAME] ckpt_path=FILE [KEY=VALUE ...]

The validation loss of a checkpoint on the experiment's data.""",
    "test": """usage: jepa test [experiment=NAME] ckpt_path=FILE [KEY=VALUE ...]

The test loss of a checkpoint on the experiment's data.""",
    "probe": """usage: jepa probe {linear,knn,attentive,anticipation,inverse_dynamics} [experiment=NAME] \\
                  encoder=SOURCE|random|pixels [KEY=VALUE ...]

Evaluate a frozen encoder on the experiment's data: linear (a grid of heads on mean-pooled features, the best on
held-out train, reported on val), kNN, attentive (a grid of attentive probes: probe_eval.attentive), anticipation
(EK100-style annotations: eval/ek100) or inverse_dynamics (the action between two frames: wm/ experiments).
Baselines: encoder=random (a fresh encoder of model.encoder's size), encoder=pixels (the input itself).""",
    "plan": """usage: jepa plan [experiment=wm/NAME] world_model=CHECKPOINT [plan.episodes=N ...]

The goal-reaching protocol of plan.env (pusht, two_room) with a world-model checkpoint: CEM or MPPI in latent
space with receding-horizon control, against a random policy; success rates, plan.png, plan.gif.""",
    "viz": """usage: jepa viz masks [experiment=NAME] [KEY=VALUE ...]
       jepa viz pca SOURCE INPUT... [--out FILE.png|FILE.gif] [--num-frames N]
       jepa viz curves RUN_DIR [--out FILE.png]

masks: a training batch's masks over its frames (masks.png in the run directory); pca: patch features in three
principal components as colours, beside the inputs; curves: loss, LR, EMA and probe accuracy of a run.""",
    "convert": """usage: jepa convert SOURCE OUT_DIR [--which encoder] [KEY=VALUE ...]

Write model.safetensors + config.json from any pretrained source (official files, Hugging Face folders, our
checkpoints, an official name such as vjepa2_vit_large); KEY=VALUE sets what the weights cannot say (num_heads=16,
img_size=256; predictor.num_heads=12 for the predictor).""",
    "prepare": """usage: jepa prepare LIST... --out DIR [--short-side 256] [--keyframe-interval 16] [--workers N] \\
                    [--crf 18]

Transcode the videos of sample lists (.csv or .npy) once, to the training resolution (short side, never enlarged)
with a keyframe every N frames, in parallel; writes each list's twin beside it (k400.csv -> k400.256p.csv) naming
the new files. Unreadable files are named, counted and left out; a second run keeps what the first prepared.""",
    "features": """usage: jepa features SOURCE INPUT... --out FILE.safetensors|FILE.npy [--batch-size N] [--num-frames N] \\
                     [--frame-step N] [--which encoder]

Pooled and per-token features of images or videos from a pretrained source.""",
}
HELP_TEMPLATE = """${hydra.help.header}

== Configuration groups (GROUP=OPTION) ==
$APP_CONFIG_GROUPS

== Config (KEY=VALUE overrides any key) ==
$CONFIG
${hydra.help.footer}
"""
HELP_FOOTER = "Hydra's own options (--cfg, --info, -m, --shell-completion, ...): --hydra-help"


def usage() -> str:
    """What ``jepa`` and ``jepa --help`` print: every command's usage line and the shipped experiments."""
    lines = [text.split("\n\n")[0].replace("usage: ", "       ", 1) for text in HELP.values()]
    lines[0] = lines[0].replace("       ", "usage: ", 1)
    experiments = "\n".join(f"  {name}" for name in list_experiments())
    return "\n".join(lines) + f"\n\njepa COMMAND --help: a command's own usage and keys.\n\nexperiments:\n{experiments}"


def register_command(command: str, name: str | None) -> str:
    """Register the primary config of ``jepa COMMAND``: ``configs/config.yaml`` with this command's ``--help`` page
    and, for probes and plans, its run name (``runs/NAME/<time>``); returns the config's name."""
    from hydra.core.config_store import ConfigStore

    slug = command.replace(" ", "_")
    head = HELP[command.split()[0]]
    page = {"app_name": f"jepa {command}", "header": f"{head}\n\n{RUN_KEYS}", "footer": HELP_FOOTER,
            "template": HELP_TEMPLATE}  # fmt: skip
    store = ConfigStore.instance()
    store.store(group="hydra/help", name=f"jepa_{slug}", node=page)
    primary: dict[str, Any] = {"defaults": ["config", {"override hydra/help": f"jepa_{slug}"}, "_self_"]}
    if name is not None:
        primary["name"] = name
    store.store(name=f"jepa_{slug}", node=primary)
    return f"jepa_{slug}"


def hydra_entry(command: str, args: Sequence[str], task: Callable[[Any, Path], Any], name: str | None = None) -> None:
    """Run ``task(run, run_dir)`` through Hydra's application entry (``hydra.main``) with ``args`` as its command
    line: one job, or one per point of a ``-m`` sweep (``name``: the run name, else the experiment's). A plain run
    is composed once first so that a bad key or value is our one-line error; a job's error is raised after every
    job ran."""
    import hydra
    from hydra.core.hydra_config import HydraConfig
    from omegaconf.errors import OmegaConfBaseException

    from jepa.errors import InputError

    if not any(arg.startswith("-") for arg in args):
        compose_run(args)
    register_configs()
    primary = register_command(command, name)
    failures: list[BaseException] = []

    @hydra.main(config_path="pkg://configs", config_name=primary, version_base="1.3")
    def app(cfg: Any) -> None:
        try:
            task(to_run_config(cfg), Path(HydraConfig.get().runtime.output_dir))
        except OmegaConfBaseException as err:  # a sweep's point the schema refuses
            failures.append(InputError(explain(err)))
        except Exception as err:  # noqa: BLE001 - raised again by main() after every job ran
            failures.append(err)

    argv = sys.argv
    sys.argv = [f"jepa {command}", *args]
    try:
        app()
    finally:
        sys.argv = argv
    if failures:
        raise failures[0]


def _overrides(pairs: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` arguments as constructor overrides (values parsed as YAML: numbers, booleans, lists)."""
    import yaml

    from jepa.errors import InputError

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise InputError(f"expected KEY=VALUE, got {pair!r}")
        out[key] = yaml.safe_load(value)
    return out


def run_tool(command: str, args: Sequence[str]) -> None:
    """``jepa convert``, ``jepa features`` (pretrained sources) and ``jepa prepare``: plain arguments, no Hydra."""
    import argparse

    parser = argparse.ArgumentParser(prog=f"jepa {command}", description=HELP[command],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    if command == "prepare":
        return prepare(parser, args)
    from encoders.pretrained import load_pretrained
    from jepa.convert import export_pretrained

    parser.add_argument("source")
    if command == "convert":
        parser.add_argument("out_dir")
    else:
        parser.add_argument("inputs", nargs="+", type=Path)
        parser.add_argument("--out", type=Path, required=True)
        parser.add_argument("--batch-size", type=int, default=8)
        parser.add_argument("--num-frames", type=int, default=None)
        parser.add_argument("--frame-step", type=int, default=4)
        parser.add_argument("--device", default="cpu")
    parser.add_argument("--which", default="target_encoder", choices=("target_encoder", "encoder"))
    parsed, rest = parser.parse_known_args(list(args))
    overrides = _overrides(rest)
    if command == "convert":
        predictor = {k[len("predictor.") :]: overrides.pop(k) for k in list(overrides) if k.startswith("predictor.")}
        out = export_pretrained(parsed.source, parsed.out_dir, parsed.which, predictor, **overrides)
        print(f"wrote {out / 'model.safetensors'} and {out / 'config.json'}")
        return
    from jepa.features import extract, save_features

    encoder = load_pretrained(parsed.source, parsed.which, **overrides)
    pooled, tokens = extract(encoder, parsed.inputs, parsed.batch_size, parsed.num_frames, parsed.frame_step,
                             parsed.device)  # fmt: skip
    written = save_features(parsed.out, [str(p) for p in parsed.inputs], pooled, tokens)
    print(f"{len(parsed.inputs)} inputs, features {tuple(pooled.shape)} pooled: " + ", ".join(map(str, written)))


def prepare(parser: Any, args: Sequence[str]) -> None:
    """``jepa prepare``: transcode lists' videos (:mod:`jepa.data.prepare`) and say what was done and skipped."""
    import os

    from jepa.data.prepare import prepare_lists
    from jepa.errors import InputError

    parser.add_argument("lists", nargs="+")
    parser.add_argument("--out", required=True, help="folder of the prepared videos")
    parser.add_argument("--short-side", type=int, default=256)
    parser.add_argument("--keyframe-interval", type=int, default=16)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--crf", type=int, default=18, help="x264 constant quality (lower: better, larger)")
    parsed = parser.parse_args(list(args))
    try:
        report = prepare_lists(parsed.lists, parsed.out, parsed.short_side, parsed.keyframe_interval, parsed.workers,
                               parsed.crf)  # fmt: skip
    except ValueError as err:
        raise InputError(str(err)) from err
    for path, reason in report.skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    print(f"{report.transcoded} transcoded, {report.reused} kept from an earlier run, {len(report.skipped)} skipped "
          f"(unreadable), {report.images} images listed as they were; lists: {', '.join(map(str, report.lists))}")


def draw_masks(run: Any, run_dir: Path) -> None:
    """``jepa viz masks``: a training batch's masks over its frames, ``masks.png`` in the run directory."""
    from jepa import viz
    from jepa.errors import InputError
    from jepa.train import build_data

    if run.objective not in ("ijepa", "vjepa"):
        raise InputError(f"objective={run.objective} trains without masks: nothing to draw")
    data, _, _, mask_cfg = build_data(run)
    batch = next(iter(data.train_dataloader()))
    path = viz.plot_masks(run_dir / "masks.png", batch, mask_cfg.patch_size, getattr(mask_cfg, "tubelet_size", 1))
    print(f"wrote {path}")


def execute_viz(kind: str, args: Sequence[str]) -> Path:
    """``jepa viz pca|curves``: write the picture and return its path."""
    import argparse

    from jepa import viz
    from jepa.errors import InputError

    parser = argparse.ArgumentParser(prog=f"jepa viz {kind}", description=HELP["viz"],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    if kind == "curves":
        parser.add_argument("run_dir", type=Path)
        parser.add_argument("--out", type=Path, default=None)
        parsed = parser.parse_args(list(args))
        try:
            return viz.plot_curves(parsed.run_dir, parsed.out)
        except (FileNotFoundError, ValueError) as err:
            raise InputError(str(err)) from err
    from encoders.pretrained import load_pretrained
    from jepa.features import extract, read_input

    parser.add_argument("source")
    parser.add_argument("inputs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("pca.png"))
    parser.add_argument("--num-frames", type=int, default=None)
    parser.add_argument("--frame-step", type=int, default=4)
    parser.add_argument("--which", default="target_encoder", choices=("target_encoder", "encoder"))
    parsed, rest = parser.parse_known_args(list(args))
    missing = [str(p) for p in parsed.inputs if not p.is_file()]
    if missing:
        raise InputError(f"{', '.join(missing)}: no such file")
    encoder = load_pretrained(parsed.source, parsed.which, **_overrides(rest))
    _, tokens = extract(encoder, parsed.inputs, num_frames=parsed.num_frames, frame_step=parsed.frame_step)
    frames = min(parsed.num_frames or 16, encoder.num_frames) if encoder.is_video else 1
    inputs = [read_input(p, encoder, frames, parsed.frame_step) for p in parsed.inputs]
    grid = (frames // encoder.tubelet_size if encoder.is_video else 1, *encoder.grid[1:])
    return viz.write_pca(parsed.out, inputs, tokens, grid, encoder.tubelet_size)


def _train(command: str, args: Sequence[str]) -> None:
    from jepa.train import execute

    hydra_entry(command, args, lambda run, run_dir: execute(command, run, run_dir))


def _probe(args: Sequence[str]) -> None:
    from jepa.errors import InputError
    from jepa.probes.run import execute_probe

    kind = args[0] if args else ""
    if kind in ("-h", "--help"):
        hydra_entry("probe", args, execute_probe)
        return
    if kind not in PROBES:
        raise InputError(f"choose a probe: {', '.join(PROBES)} (got {kind or 'none'})")
    hydra_entry(f"probe {kind}", args[1:], lambda run, run_dir: execute_probe(kind, run, run_dir), f"probe_{kind}")


def _plan(args: Sequence[str]) -> None:
    from jepa.planning.run import execute_plan

    hydra_entry("plan", args, execute_plan, "plan")


def _viz(args: Sequence[str]) -> None:
    from jepa.errors import InputError

    kind = args[0] if args else ""
    if kind in ("-h", "--help"):
        print(HELP["viz"])
        return
    if kind not in VIZ:
        raise InputError(f"choose a picture: {', '.join(VIZ)} (got {kind or 'none'})")
    if kind == "masks":
        hydra_entry("viz masks", args[1:], draw_masks, "viz_masks")
        return
    print(f"wrote {execute_viz(kind, args[1:])}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``jepa`` console script; returns the exit status (2 for bad input, 1 for a run stopped
    by a non-finite loss or a failed checkpoint write)."""
    from functools import partial

    from jepa.checkpointing import CheckpointWriteError
    from jepa.errors import InputError
    from jepa.guards import NonFiniteLossError

    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0
    command, rest = args[0], args[1:]
    handlers = {"probe": _probe, "plan": _plan, "viz": _viz, **{t: partial(run_tool, t) for t in TOOLS},
                **{c: partial(_train, c) for c in COMMANDS}}  # fmt: skip
    if command not in handlers:
        print(f"jepa: unknown command {command!r}; choose one of {', '.join(handlers)}\n\n{usage()}", file=sys.stderr)
        return 2
    try:
        handlers[command](rest)
    except InputError as err:
        print(f"jepa {command}: error: {err}", file=sys.stderr)
        return 2
    except (NonFiniteLossError, CheckpointWriteError) as err:
        print(f"jepa {command}: error: {err}", file=sys.stderr)
        return 1
    return 0
