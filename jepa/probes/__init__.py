"""Probes of frozen encoders: the shared grid of heads and its report (``heads``), features computed once and the
probes run during fit (``features``), one module per probe (``attentive``, ``anticipation``, ``inverse_dynamics``),
and ``run``, what ``jepa probe`` does."""
