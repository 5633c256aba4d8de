"""Planning with a latent world model: the planners and the receding-horizon loop (``planners``), the goal-reaching
protocols of each environment (``protocol``), and ``run``, what ``jepa plan`` does."""
