"""The probe's passes, registered in a fixed order: the standard passes (:mod:`.standard`), the
sample-axis and ReLU passes (:mod:`.sample`), the block / NTK / per-image passes (:mod:`.block`), then
the Fisher information pass (:mod:`.fisher`)."""
from evoproxy.probe.passes import standard, sample, block, fisher  # noqa: F401  (order: standard, then the others)
