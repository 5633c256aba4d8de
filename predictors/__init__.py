"""Predictors: what maps tokens to other tokens (mask-token predictor) or to labels (probe heads)."""

from predictors.action_conditioned import ActionConditionedPredictor
from predictors.heads import LinearHead, ProjectionHead
from predictors.mask_token import MaskTokenPredictor

__all__ = ["ActionConditionedPredictor", "LinearHead", "MaskTokenPredictor", "ProjectionHead"]
