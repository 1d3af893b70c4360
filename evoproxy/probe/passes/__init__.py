"""The probe's passes, registered in a fixed order: the standard passes (:mod:`.standard`), the
sample-axis and ReLU passes (:mod:`.sample`), then the block / NTK / per-image passes (:mod:`.block`)."""
from evoproxy.probe.passes import standard, sample, block  # noqa: F401  (order: standard, then the others)
