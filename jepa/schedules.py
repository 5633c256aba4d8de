"""Schedules of learning rate, weight decay and EMA momentum as pure functions of the step."""

from __future__ import annotations

import math


def warmup_cosine(step: int, total_steps: int, warmup_steps: int, start: float, ref: float, final: float) -> float:
    """Linear ``start → ref`` over ``warmup_steps``, then cosine ``ref → final`` until ``total_steps`` (I-JEPA)."""
    if step < warmup_steps:
        return start + (ref - start) * step / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return final + (ref - final) * 0.5 * (1.0 + math.cos(math.pi * progress))


def warmup_then(
    step: int,
    total_steps: int,
    warmup_steps: int,
    start: float,
    ref: float,
    final: float,
    decay: str = "cosine",
    anneal_steps: int = 0,
) -> float:
    """Linear ``start → ref`` over ``warmup_steps``, then ``decay`` until ``total_steps``: ``cosine`` or ``linear``
    ``ref → final`` (I-JEPA / V-JEPA; linear is the V-JEPA 2 cooldown), or ``constant`` at ``ref`` (V-JEPA 2's
    warmup-stable pretraining), which ``anneal_steps > 0`` ends with a linear ``ref → final`` over that many last
    steps (warmup-stable-decay, as V-JEPA 2-AC trains)."""
    if decay == "cosine":
        return warmup_cosine(step, total_steps, warmup_steps, start, ref, final)
    if step < warmup_steps:
        return start + (ref - start) * step / warmup_steps
    if decay == "constant":
        anneal_from = total_steps - anneal_steps
        return linear(step - anneal_from, anneal_steps, ref, final) if anneal_steps and step >= anneal_from else ref
    if decay == "linear":
        return linear(step - warmup_steps, total_steps - warmup_steps, ref, final)
    raise ValueError(f"unknown LR decay {decay!r}; choose one of cosine, linear, constant")


def cosine(step: int, total_steps: int, start: float, final: float) -> float:
    """Cosine ``start → final`` over ``total_steps`` (I-JEPA's weight-decay schedule), then held at ``final``."""
    progress = min(1.0, step / max(1, total_steps))
    return final + (start - final) * 0.5 * (1.0 + math.cos(math.pi * progress))


def linear(step: int, total_steps: int, start: float, end: float) -> float:
    """Linear ``start → end`` over ``total_steps`` (I-JEPA's EMA momentum), then held at ``end``."""
    return start + (end - start) * min(1.0, step / max(1, total_steps))
