"""Architecture specs of the ViT student spaces (AutoFormer-Tiny, PiT, cifar-vit).

Search-space choices and patch geometry as constants; arch specs are plain dicts (or
their JSON text), validated and normalised by :func:`arch_from_json`, written as one
string per architecture by :func:`canonical` and drawn uniformly by :func:`sample_arch`.
The structural checks (:func:`autoformer_shape`, :func:`pit_shape`) are shared with the
model builders in :mod:`evoproxy.spaces.vit.models`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Union

import numpy as np

from evoproxy.errors import EvoproxyError

PATCH_SIZE = 4
"""Patch size of AutoFormer-Tiny at 32 px (8x8 tokens)."""
PATCHES: Mapping[str, int] = MappingProxyType({"autoformer": PATCH_SIZE, "cifar-vit": 8})
"""Patch size per AutoFormer-style space; cifar-vit's 8 (4x4 tokens) keeps CPU training short."""
PIT_EMBED = (4, 2, 1)
"""Kernel, stride and padding of PiT's conv patch embed at 32 px (16x16 map)."""

AUTOFORMER_TINY: Mapping[str, tuple] = MappingProxyType({
    "hidden_dim": (192, 216, 240), "depth": (12, 13, 14),
    "mlp_ratio": (3.5, 4.0), "num_heads": (3, 4)})
"""AutoFormer-Tiny choices; ``mlp_ratio`` and ``num_heads`` are chosen per block."""

CIFAR_VIT: Mapping[str, tuple] = MappingProxyType({
    "hidden_dim": (64, 96, 128), "depth": (3, 4, 5, 6),
    "mlp_ratio": (2.0, 3.0, 4.0), "num_heads": (2, 4)})
"""A small AutoFormer-style space for students trained on a CPU (patch 8)."""

# The 10-option depth and head lists are ours, shaped like Auto-Prox's (its public code does
# not list them): they are the 10 depth and 10 head triples that occur in the published
# gt_pit table. Each stage's heads divide the next's, as the grouped pooling conv
# (groups = C_s, C_{s+1} outputs) requires.
PIT_SPACE: Mapping[str, tuple] = MappingProxyType({
    "base_dim": (16, 24, 32, 40), "mlp_ratio": (2, 4, 6, 8),
    "depth": ((1, 6, 6), (1, 8, 4), (2, 4, 6), (2, 6, 4), (2, 6, 6),
              (2, 8, 2), (2, 8, 4), (3, 4, 6), (3, 6, 4), (3, 8, 2)),
    "num_heads": ((2, 2, 2), (2, 2, 4), (2, 2, 8), (2, 4, 4), (2, 4, 8),
                  (2, 8, 8), (4, 4, 4), (4, 4, 8), (4, 8, 8), (8, 8, 8))})
"""PiT choices; ``mlp_ratio`` is one number for the whole net, depth/heads are triples."""

SPACES: Mapping[str, Mapping[str, tuple]] = MappingProxyType(
    {"autoformer": AUTOFORMER_TINY, "pit": PIT_SPACE, "cifar-vit": CIFAR_VIT})

ArchSpec = Union[str, Mapping[str, Any]]


def conv_out(n: int, k: int, s: int, p: int) -> int:
    """Output side of a conv with kernel ``k``, stride ``s`` and padding ``p`` over ``n`` px."""
    return (n + 2 * p - k) // s + 1


# --------------------------------------------------------------------------- arch specs

def _need_keys(arch: Mapping[str, Any], keys: Sequence[str]) -> None:
    missing = [k for k in keys if k not in arch]
    if missing:
        raise EvoproxyError(f"arch lacks {', '.join(missing)}; give all of {', '.join(keys)}")


def autoformer_shape(arch: Mapping[str, Any]) -> tuple[int, int]:
    """Width and depth of an AutoFormer arch after structural checks (not space membership)."""
    _need_keys(arch, tuple(AUTOFORMER_TINY))
    dim, depth = arch["hidden_dim"], arch["depth"]
    if depth < 3:
        raise EvoproxyError(f"AutoFormer depth {depth} < 3; three feature blocks need depth >= 3")
    for key in ("mlp_ratio", "num_heads"):
        if len(arch[key]) != depth:
            raise EvoproxyError(f"{key} has {len(arch[key])} entries but depth is {depth}; give one per block")
    for h in arch["num_heads"]:
        if h < 1 or dim % h:
            raise EvoproxyError(f"hidden_dim {dim} is not divisible by {h} heads; pick heads that divide it")
    return dim, depth


def pit_shape(arch: Mapping[str, Any]) -> list[int]:
    """Stage widths ``base_dim * heads`` of a PiT arch after structural checks."""
    _need_keys(arch, tuple(PIT_SPACE))
    depth, heads = arch["depth"], arch["num_heads"]
    if len(depth) != 3 or len(heads) != 3:
        raise EvoproxyError(f"PiT depth {list(depth)} and num_heads {list(heads)} must be triples (3 stages)")
    if min(depth) < 1 or min(heads) < 1:
        raise EvoproxyError(f"PiT depth {list(depth)} and num_heads {list(heads)} must be >= 1 per stage")
    for a, b in zip(heads, heads[1:]):
        if b % a:
            raise EvoproxyError(f"PiT num_heads {list(heads)}: {b} is not a multiple of {a}; the grouped "
                                "pooling conv needs each stage's heads to divide the next's")
    return [arch["base_dim"] * h for h in heads]


def space_kind(space_name: str) -> str:
    """The model family of a known space: ``"pit"`` or ``"autoformer"`` (AutoFormer-style)."""
    if space_name not in SPACES:
        raise EvoproxyError(f"unknown ViT space {space_name!r}; choose one of {', '.join(SPACES)}")
    return "pit" if space_name == "pit" else "autoformer"


def canonical(arch: Mapping[str, Any]) -> str:
    """Compact JSON with sorted keys: one string per architecture."""
    if not isinstance(arch, Mapping):
        raise EvoproxyError(f"arch must be a dict, got {type(arch).__name__}; parse it with arch_from_json")
    return json.dumps(dict(arch), sort_keys=True, separators=(",", ":"))


def sample_arch(space_name: str, rng: np.random.Generator) -> dict:
    """A uniformly drawn arch of the space (per-block choices drawn independently)."""
    kind, space = space_kind(space_name), SPACES[space_name]
    pick = lambda options: options[int(rng.integers(len(options)))]
    if kind == "pit":
        return {"base_dim": pick(space["base_dim"]), "mlp_ratio": pick(space["mlp_ratio"]),
                "depth": list(pick(space["depth"])), "num_heads": list(pick(space["num_heads"]))}
    depth = pick(space["depth"])
    return {"hidden_dim": pick(space["hidden_dim"]), "depth": depth,
            "mlp_ratio": [float(pick(space["mlp_ratio"])) for _ in range(depth)],
            "num_heads": [pick(space["num_heads"]) for _ in range(depth)]}


def _int(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise EvoproxyError(f"{key} must be an integer, got {value!r}; fix the arch JSON")
    return value


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise EvoproxyError(f"{key} must be a number, got {value!r}; fix the arch JSON")
    return value


def _int_list(value: Any, key: str) -> list[int]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise EvoproxyError(f"{key} must be a list, got {value!r}; fix the arch JSON")
    return [_int(v, key) for v in value]


def _member(value: Any, options: Sequence, key: str, space_name: str) -> None:
    if value not in options:
        raise EvoproxyError(f"{key} {value!r} is not a {space_name} choice; use one of {list(options)}")


def _parse_autoformer(raw: Mapping[str, Any], space_name: str) -> dict:
    space = SPACES[space_name]
    depth = _int(raw["depth"], "depth")
    mlp = raw["mlp_ratio"]
    if not isinstance(mlp, Sequence) or isinstance(mlp, str):
        raise EvoproxyError(f"mlp_ratio must be a list (one per block), got {mlp!r}; fix the arch JSON")
    arch = {"hidden_dim": _int(raw["hidden_dim"], "hidden_dim"), "depth": depth,
            "mlp_ratio": [float(_number(r, "mlp_ratio")) for r in mlp],
            "num_heads": _int_list(raw["num_heads"], "num_heads")}
    autoformer_shape(arch)
    for key in ("hidden_dim", "depth"):
        _member(arch[key], space[key], key, space_name)
    for key in ("mlp_ratio", "num_heads"):
        for v in arch[key]:
            _member(v, space[key], key, space_name)
    return arch


def _parse_pit(raw: Mapping[str, Any]) -> dict:
    mlp = _number(raw["mlp_ratio"], "mlp_ratio")
    arch = {"base_dim": _int(raw["base_dim"], "base_dim"),
            "mlp_ratio": int(mlp) if float(mlp).is_integer() else mlp,
            "depth": _int_list(raw["depth"], "depth"), "num_heads": _int_list(raw["num_heads"], "num_heads")}
    pit_shape(arch)
    for key in ("base_dim", "mlp_ratio"):
        _member(arch[key], PIT_SPACE[key], key, "pit")
    for key in ("depth", "num_heads"):
        allowed = sorted({v for triple in PIT_SPACE[key] for v in triple})
        for v in arch[key]:
            _member(v, allowed, key, "pit")
    return arch


def arch_from_json(arch: ArchSpec, space_name: str) -> dict:
    """Validate an arch (JSON text or dict) against a space; return a normalised dict.

    AutoFormer-style specs need one ``mlp_ratio``/``num_heads`` entry per block, each from
    the space's choices. PiT specs need triples whose entries appear in the space's
    options (the triple itself need not be one of the 10 options).
    """
    kind = space_kind(space_name)
    if isinstance(arch, str):
        try:
            arch = json.loads(arch)
        except json.JSONDecodeError as err:
            raise EvoproxyError(f"arch is not valid JSON ({err.msg}); pass a JSON object") from None
    if not isinstance(arch, Mapping):
        raise EvoproxyError(f"arch must be a JSON object, got {type(arch).__name__}; pass a dict")
    want = set(SPACES[space_name])
    if set(arch) != want:
        raise EvoproxyError(f"{space_name} arch keys {sorted(arch)} != {sorted(want)}; give exactly those keys")
    return _parse_pit(arch) if kind == "pit" else _parse_autoformer(arch, space_name)
