"""
The only code that knows SB3 / sb3-contrib internals. Everything here only reads: no-grad passes,
samples drawn with the caller's own generator (never the global NumPy/torch RNG, never
``replay_buffer.sample()``), never an optimizer step.

- :mod:`.models`: what a model is (recurrent, off-policy ...), its optimizers, distributions, values and Q-values
- :mod:`.buffers`: seeded samples of rollout and replay buffers
- :mod:`.spaces`: space layouts, flattening and seeded samples
- :mod:`.steps`: the environment step a model is in (``_last_obs``, DummyVecEnv's raw terminal observations)
- :mod:`.train_log`: SB3's ``train/*`` and ``rollout/*`` logger keys (torch-free; the report reads it too)
- :mod:`.state`: per-model state shared by every check on a model (torch-free)
- :mod:`.gradient_tap`: optimizer and gradient hooks, and the schedule of which steps are measured
- :mod:`.target_probe`: how fast target networks move

This ``__init__`` imports none of them, so ``sb3_diagnostics.sb3.train_log`` loads without torch.
"""
