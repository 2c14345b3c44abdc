"""An entropy check on ARS, whose deterministic linear policy has no entropy: the check says so once, at info level."""

from sb3_contrib import ARS

from sb3_diagnostics import EntropyCollapseCallback

model = ARS("LinearPolicy", "CartPole-v1", n_delta=2, seed=0)
cb = EntropyCollapseCallback()
model.learn(300, callback=cb)
print(cb.report())
