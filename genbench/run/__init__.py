"""What runs a plan: the plan (``plan``), the runner (``runner``), the training loop (``trainer``) and what
they need: presets and ``--set`` (``config``), checks (``validate``), bf16/compile (``accel``), torchrun
(``distributed``) and signals (``signals``)."""
