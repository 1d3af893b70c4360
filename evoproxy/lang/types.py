"""Value types of the proxy language.

Every statistic and every intermediate value has one of three kinds:

* ``tensor`` — a list of per-layer tensors that share a *domain*: a name for their shape
  family ("W" for weight-shaped, "A" for activation-shaped, or a derived one such as
  "gram(A)"). Elementwise binary ops need equal domains: that is the static shape check.
  Teacher and student features ("T", "S") differ in channel count; channel-free transforms map
  both to one domain (e.g. "attention_map(F)"), where distances can compare them.
* ``layer`` — one number per layer (a 1-D tensor over layers in forward order), e.g. from a
  reduction or from a distance between two tensors of one domain. Its *axis* says which list of
  layers: the measured layers (no axis, ``layer``), or another list a statistic runs over, e.g.
  ``layer[relu]`` for the ReLUs of ``relu_in``; values of different axes never meet, except
  that a list with one entry per network (``layer[logits]``, ``layer[classifier]``,
  ``layer[network]``) broadcasts like a scalar.
* ``scalar`` — one number for the whole network.
* ``set`` — one number per network that depends on the *set of networks scored together*: a
  rank among them (``rank``) and what is computed from ranks, e.g. AZ-NAS's sum of log-ranks.
  Its value for a network changes when the set changes; a program of this kind is scored on a
  whole benchmark split at once (each benchmark of a search ranked on its own).

A scalar broadcasts against the other kinds in binary ops.
"""
from __future__ import annotations

from dataclasses import dataclass

TENSOR, LAYER, SCALAR, SET = "tensor", "layer", "scalar", "set"
KINDS = (TENSOR, LAYER, SCALAR, SET)


@dataclass(frozen=True)
class VType:
    kind: str
    domain: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown value kind {self.kind!r}")
        if (self.kind == TENSOR and not self.domain) or (self.kind in (SCALAR, SET) and self.domain):
            raise ValueError("a tensor carries a domain, a layer value may carry an axis, a scalar or set "
                             "value neither")

    def __str__(self) -> str:
        return self.kind if self.kind in (SCALAR, SET) or not self.domain else f"{self.kind}[{self.domain}]"


def tensor(domain: str) -> VType:
    return VType(TENSOR, domain)


LAYER_T = VType(LAYER)
SCALAR_T = VType(SCALAR)
SET_T = VType(SET)
AXES = {"R": "relu", "X": "input", "B": "block", "J": "block_step", "N": "network",
        "T": "stage", "S": "stage", "F": "stage", "attn": "stage", "Z": "logits",
        "TK": "classifier", "SK": "classifier", "K": "classifier"}
"""Base domains whose statistics run over a list other than the measured layers, and its name
(teacher and student features and attention: the three paired stages)."""
ONE_ENTRY_AXES = frozenset({"network", "logits", "classifier"})
"""Axes of lists with one entry per network: their layer values broadcast against any other."""


def base_domain(domain: str) -> str:
    """The statistic's domain under derived ones: ``spatial_sum(gram(R|n))`` -> ``R``."""
    return domain.rsplit("(", 1)[-1].rstrip(")").split("|")[0]


def layers_of(domain: str) -> VType:
    """The per-layer type of a reduction of tensors of ``domain`` (its axis)."""
    return VType(LAYER, AXES.get(base_domain(domain), ""))


class TypeCheckError(ValueError):
    """A program pairs values whose kinds or shapes cannot meet."""
