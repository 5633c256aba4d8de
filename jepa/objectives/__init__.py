"""Objectives: one LightningModule per pretraining recipe."""

from jepa.objectives.ijepa import IJEPA

__all__ = ["IJEPA"]
