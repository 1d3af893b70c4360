"""Value types of the proxy language.

Every statistic and every intermediate value has one of three kinds:

* ``tensor`` — a list of per-layer tensors that share a *domain*: a name for their shape
  family ("W" for weight-shaped, "A" for activation-shaped, or a derived one such as
  "gram(A)"). Elementwise binary ops need equal domains: that is the static shape check.
  Teacher and student features ("T", "S") differ in channel count; channel-free transforms map
  both to one domain (e.g. "attention_map(F)"), where distances can compare them.
* ``layer`` — one number per layer (a 1-D tensor over layers in forward order), e.g. from a
  reduction or from a distance between two tensors of one domain.
* ``scalar`` — one number for the whole network.

A scalar broadcasts against the other kinds in binary ops.
"""
from __future__ import annotations

from dataclasses import dataclass

TENSOR, LAYER, SCALAR = "tensor", "layer", "scalar"
KINDS = (TENSOR, LAYER, SCALAR)


@dataclass(frozen=True)
class VType:
    kind: str
    domain: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown value kind {self.kind!r}")
        if (self.kind == TENSOR) != bool(self.domain):
            raise ValueError("exactly the tensor kind carries a domain")

    def __str__(self) -> str:
        return f"tensor[{self.domain}]" if self.kind == TENSOR else self.kind


def tensor(domain: str) -> VType:
    return VType(TENSOR, domain)


LAYER_T = VType(LAYER)
SCALAR_T = VType(SCALAR)


class TypeCheckError(ValueError):
    """A program pairs values whose kinds or shapes cannot meet."""
