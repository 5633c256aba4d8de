"""JEPA toolkit: objectives as LightningModules, masks, data, schedules and the ``jepa`` command."""

__version__ = "0.1.0"
