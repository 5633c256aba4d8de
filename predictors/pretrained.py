"""Load the predictor of a pretrained source, strictly: the mask-token predictor of official I-JEPA / V-JEPA /
V-JEPA 2 files, Hugging Face ``VJEPA2Model`` folders and our files, or the V-JEPA 2-AC action-conditioned
predictor; on the grid of the source's encoder. And the official attentive probes (:func:`load_probe`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from encoders.pretrained import Checkpoint, PretrainedError, read_checkpoint
from encoders.pretrained.architecture import (
    GRID_KEYS,
    action_conditioned_kwargs,
    encoder_facts,
    is_action_conditioned,
    load_strict,
    merge_overrides,
    predictor_kwargs,
)
from encoders.pretrained.checkpoint import load_tensors
from encoders.pretrained.official_names import translate
from predictors.action_conditioned import ActionConditionedPredictor
from predictors.heads import AttentiveClassifier
from predictors.mask_token import MaskTokenPredictor


def build_predictor(ckpt: Checkpoint, overrides: dict[str, Any], encoder: dict[str, Any]) -> tuple[nn.Module, dict]:
    """The (unloaded) predictor ``ckpt.predictor`` describes, and its constructor arguments."""
    if not ckpt.predictor:
        raise PretrainedError(f"{ckpt.source}: holds no predictor weights (format {ckpt.format})")
    if is_action_conditioned(ckpt.predictor):
        kwargs = action_conditioned_kwargs(ckpt, overrides, encoder)
        return ActionConditionedPredictor(**kwargs), kwargs
    kwargs = predictor_kwargs(ckpt, overrides, encoder)
    return MaskTokenPredictor(**kwargs), kwargs


def load_pretrained(source: str | Path, encoder_overrides: dict[str, Any] | None = None,
                    **overrides: Any) -> nn.Module:  # fmt: skip
    """The predictor of ``source`` in eval mode: a :class:`MaskTokenPredictor` or, for V-JEPA 2-AC files, an
    :class:`ActionConditionedPredictor`. ``overrides`` take the official constructor arguments as the official code
    spells them (``num_heads``, ``img_size``, ``mlp_ratio``, ...: the predictor's own suffice); ``encoder_overrides``
    fix encoder facts the grid comes from (``img_size``, ``num_frames``)."""
    ckpt = read_checkpoint(source)
    grid = {k: v for k, v in overrides.items() if k in GRID_KEYS}
    encoder = encoder_facts(ckpt, {**grid, **(encoder_overrides or {})})
    model, kwargs = build_predictor(ckpt, overrides, encoder)
    load_strict(model, ckpt.predictor, ckpt, kwargs)
    return model.eval()


def load_probe(source: str | Path, index: int = 0, **overrides: Any) -> AttentiveClassifier:
    """An official attentive-probe file in eval mode: a plain ``AttentiveClassifier`` state dict, or the evaluation
    checkpoint ``{"classifiers": [state dict with 'module.' prefix, ...], ...}`` (``index`` picks the classifier).
    Heads cannot be read from the weights: the official probes use 16; other widths need ``num_heads=``."""
    path = Path(source).expanduser()
    if not path.is_file():
        raise PretrainedError(f"{path}: no such file")
    raw = load_tensors(path)
    state = raw["classifiers"][index] if isinstance(raw.get("classifiers"), list) else raw
    state = {k.removeprefix("module."): v for k, v in state.items()}
    if "pooler.query_tokens" not in state:
        raise PretrainedError(f"{path}: not an attentive probe (no pooler.query_tokens among {sorted(state)[:5]})")
    dim = state["pooler.query_tokens"].shape[-1]
    read = {
        "embed_dim": dim, "num_classes": state["linear.weight"].shape[0],
        "depth": 1 + len({k.split(".")[2] for k in state if k.startswith("pooler.blocks.")}),
        "mlp_ratio": state["pooler.cross_attention_block.mlp.fc1.weight"].shape[0] / dim,
        "qkv_bias": "pooler.cross_attention_block.xattn.q.bias" in state,
    }  # fmt: skip
    overrides = translate(overrides, read, "embed_dim", str(path), unused=("use_activation_checkpointing",))
    kwargs = merge_overrides(read, {}, overrides, str(path))
    if "num_heads" not in kwargs:
        if dim not in (1024, 1280, 1408, 1664):
            raise PretrainedError(f"{path}: a probe {dim} wide is no official size, so the number of heads cannot "
                                  "be read from the weights: pass num_heads=...")  # fmt: skip
        kwargs["num_heads"] = 16
    model = AttentiveClassifier(**kwargs)
    ckpt = Checkpoint(str(path), "attentive_probe", None, state)
    load_strict(model, state, ckpt, kwargs)
    return model.eval()
