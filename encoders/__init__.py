"""Encoders: what turns pixels into tokens (ViT backbones, attention backends, positions). Knows nothing of training."""

from encoders.attention import Attention, packed_attention
from encoders.packing import SeqLens
from encoders.vit import SIZES, VisionTransformer, create_encoder

__all__ = ["SIZES", "Attention", "SeqLens", "VisionTransformer", "create_encoder", "packed_attention"]
