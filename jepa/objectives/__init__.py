"""Objectives: one LightningModule per pretraining recipe, on a shared base."""

from jepa.objectives.base import JEPAObjective
from jepa.objectives.ijepa import IJEPA
from jepa.objectives.lejepa import LeJEPA
from jepa.objectives.vjepa import VJEPA
from jepa.objectives.world_model import WorldModel

__all__ = ["IJEPA", "VJEPA", "JEPAObjective", "LeJEPA", "WorldModel"]
