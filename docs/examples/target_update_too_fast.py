"""A SAC subclass that applies the polyak update twice per gradient step."""

from sb3_diagnostics import DiagnosticsCallback
from sb3_diagnostics.faults import DoubleUpdateSAC  # the library's fault reproductions (not a stable API)

model = DoubleUpdateSAC("MlpPolicy", "Pendulum-v1", learning_starts=100, batch_size=64,
                        policy_kwargs=dict(net_arch=[32, 32]), seed=0)
cb = DiagnosticsCallback()
model.learn(500, callback=cb)
print(cb.report())
