"""Simulators the world model is trained on and plans in."""

from jepa.envs.pusht import PushTView

__all__ = ["PushTView"]
