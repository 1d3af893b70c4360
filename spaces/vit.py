"""Vision-transformer students at CIFAR resolution (32x32 input), in plain torch.

Two subnet families follow Auto-Prox (lliai/Auto-Prox-AAAI24), scaled down in the
patch embedding only:

* :class:`AutoFormerSub` (AutoFormer-Tiny subnets): Conv2d patch embed (224 px /
  patch 16 = 14x14 tokens there; 32 px / patch 4 = 8x8 here), a class token, a learned
  absolute position embedding, pre-norm blocks with a per-block head count and MLP
  ratio, final LayerNorm and a classifier on the MEAN of the patch tokens.
* :class:`PiTSub` (PiT subnets): conv patch embed (k16 s8 at 224 px = 27x27 there;
  k4 s2 p1 at 32 px = 16x16 here), a spatial position embedding, three stages of
  blocks at width ``base_dim * heads`` joined by depthwise-conv pooling (16 -> 8 -> 4),
  final LayerNorm and a classifier on the class token.

Both are for untrained probing, so there is no dropout and no drop-path. Arch specs
are plain dicts (or their JSON text), read by :func:`arch_from_json`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Optional, Union

import numpy as np
import torch
from torch import nn

from evoproxy.errors import EvoproxyError

LN_EPS = 1e-6
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


# --------------------------------------------------------------------------- modules

class Attention(nn.Module):
    """Multi-head self-attention; keeps its last probabilities when ``keep_attn`` is set."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if heads < 1 or dim % heads:
            raise EvoproxyError(f"width {dim} is not divisible by {heads} heads; pick heads that divide it")
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim, bias=True)
        self.proj = nn.Linear(dim, dim)
        self.keep_attn = False
        self.last_attn: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        attn = (q @ k.transpose(-2, -1) * self.scale).softmax(dim=-1)
        self.last_attn = attn if self.keep_attn else None
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(LN(x)), then x + MLP(LN(x)) with GELU."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=LN_EPS)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=LN_EPS)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def _to_map(tokens: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Patch tokens ``[B, h*w, C]`` as a feature map ``[B, C, h, w]``."""
    return tokens.transpose(1, 2).reshape(tokens.shape[0], tokens.shape[2], h, w)


def _conv_out(n: int, k: int, s: int, p: int) -> int:
    return (n + 2 * p - k) // s + 1


class _ViT(nn.Module):
    """Shared parts: ``forward``, the ``keep_attn`` flag and :meth:`attention_maps`."""

    img_size: int
    feature_blocks: tuple[int, ...]

    def __init__(self) -> None:
        super().__init__()
        self._keep_attn = False

    def all_blocks(self) -> list[Block]:
        """Every transformer block in forward order."""
        raise NotImplementedError

    @property
    def keep_attn(self) -> bool:
        """When True each attention module stores its last probabilities (B, heads, N, N)."""
        return self._keep_attn

    @keep_attn.setter
    def keep_attn(self, on: bool) -> None:
        self._keep_attn = bool(on)
        for m in self.modules():
            if isinstance(m, Attention):
                m.keep_attn = self._keep_attn
                if not on:
                    m.last_attn = None

    def attention_maps(self) -> list[torch.Tensor]:
        """Last attention probabilities of the three feature blocks (not detached)."""
        blocks = self.all_blocks()
        maps = [blocks[i].attn.last_attn for i in self.feature_blocks]
        if any(m is None for m in maps):
            raise EvoproxyError("no attention maps stored; set model.keep_attn = True, then run forward")
        return maps

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or tuple(x.shape[1:]) != (3, self.img_size, self.img_size):
            raise EvoproxyError(f"expected input [B, 3, {self.img_size}, {self.img_size}], got "
                                f"{list(x.shape)}; resize images to {self.img_size} px")

    def forward_features(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)[1]


def _need_classes(num_classes: int) -> None:
    if num_classes < 1:
        raise EvoproxyError(f"num_classes must be >= 1, got {num_classes}; pass a positive class count")


class AutoFormerSub(_ViT):
    """An AutoFormer subnet at ``img_size`` px with ``patch_size`` patches (untrained probing:
    no dropout, no drop-path).

    ``forward_features`` returns the patch tokens after blocks ``round(L/3)-1``,
    ``round(2L/3)-1`` and ``L-1`` (before the final LayerNorm) as ``[B, D, h, w]`` maps,
    evenly spaced like a CNN's three stages, and the logits.
    """

    def __init__(self, arch: Mapping[str, Any], num_classes: int = 10, img_size: int = 32,
                 patch_size: int = PATCH_SIZE) -> None:
        super().__init__()
        dim, depth = _autoformer_shape(arch)
        _need_classes(num_classes)
        if patch_size < 1 or img_size % patch_size:
            raise EvoproxyError(f"img_size {img_size} is not a multiple of patch_size {patch_size}; "
                                "pick a patch size that divides it")
        self.img_size, self.grid = img_size, img_size // patch_size
        self.patch_embed = nn.Conv2d(3, dim, patch_size, patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.grid ** 2, dim))
        self.blocks = nn.ModuleList(Block(dim, h, r) for h, r in zip(arch["num_heads"], arch["mlp_ratio"]))
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.head = nn.Linear(dim, num_classes)
        self.feature_blocks = (round(depth / 3) - 1, round(2 * depth / 3) - 1, depth - 1)
        self._init_weights()

    def _init_weights(self) -> None:
        """Auto-Prox's init: trunc_normal(.02) for Linear weights, tokens and pos_embed; zero bias."""
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def all_blocks(self) -> list[Block]:
        return list(self.blocks)

    def forward_features(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Three ``[B, D, h, w]`` token maps and the logits."""
        self._check_input(x)
        t = self.patch_embed(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.cls_token.expand(t.shape[0], -1, -1), t], dim=1) + self.pos_embed
        feats = []
        for i, blk in enumerate(self.blocks):
            t = blk(t)
            if i in self.feature_blocks:
                feats.append(_to_map(t[:, 1:], self.grid, self.grid))
        return feats, self.head(self.norm(t)[:, 1:].mean(dim=1))


class Pool(nn.Module):
    """PiT pooling: depthwise stride-2 conv on the token map, Linear on the class token."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, 2, 1, groups=c_in)
        self.fc = nn.Linear(c_in, c_out)

    def forward(self, x: torch.Tensor, cls: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.conv(x), self.fc(cls)


class PiTSub(_ViT):
    """A PiT subnet at ``img_size`` px (untrained probing: no dropout, no drop-path).

    ``forward_features`` returns each stage's last block output (patch tokens, before
    pooling) as ``[B, C_s, h, w]`` maps (16, 8 and 4 px at 32 px input) and the logits.
    """

    def __init__(self, arch: Mapping[str, Any], num_classes: int = 10, img_size: int = 32) -> None:
        super().__init__()
        widths = _pit_shape(arch)
        _need_classes(num_classes)
        self.img_size = img_size
        grid = _conv_out(img_size, *PIT_EMBED)
        self.patch_embed = nn.Conv2d(3, widths[0], *PIT_EMBED)
        self.pos_embed = nn.Parameter(torch.zeros(1, widths[0], grid, grid))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, widths[0]))
        self.stages = nn.ModuleList(
            nn.ModuleList(Block(c, h, arch["mlp_ratio"]) for _ in range(d))
            for c, h, d in zip(widths, arch["num_heads"], arch["depth"]))
        self.pools = nn.ModuleList(Pool(a, b) for a, b in zip(widths, widths[1:]))
        self.norm = nn.LayerNorm(widths[-1], eps=LN_EPS)
        self.head = nn.Linear(widths[-1], num_classes)
        ends = np.cumsum(arch["depth"]) - 1
        self.feature_blocks = tuple(int(e) for e in ends)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)

    def all_blocks(self) -> list[Block]:
        return [b for stage in self.stages for b in stage]

    def forward_features(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Three ``[B, C_s, h, w]`` stage maps and the logits."""
        self._check_input(x)
        x = self.patch_embed(x) + self.pos_embed
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        feats = []
        for s, stage in enumerate(self.stages):
            h, w = x.shape[-2:]
            t = torch.cat([cls, x.flatten(2).transpose(1, 2)], dim=1)
            for blk in stage:
                t = blk(t)
            cls, x = t[:, :1], _to_map(t[:, 1:], h, w)
            feats.append(x)
            if s < len(self.pools):
                x, cls = self.pools[s](x, cls)
        return feats, self.head(self.norm(cls[:, 0]))


# --------------------------------------------------------------------------- arch specs

def _need_keys(arch: Mapping[str, Any], keys: Sequence[str]) -> None:
    missing = [k for k in keys if k not in arch]
    if missing:
        raise EvoproxyError(f"arch lacks {', '.join(missing)}; give all of {', '.join(keys)}")


def _autoformer_shape(arch: Mapping[str, Any]) -> tuple[int, int]:
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


def _pit_shape(arch: Mapping[str, Any]) -> list[int]:
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


def _kind(space_name: str) -> str:
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
    kind, space = _kind(space_name), SPACES[space_name]
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
    _autoformer_shape(arch)
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
    _pit_shape(arch)
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
    kind = _kind(space_name)
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


def build_vit(space_name: str, arch: ArchSpec, num_classes: int = 10) -> nn.Module:
    """Build a validated arch at 32 px: PiTSub for ``pit``, AutoFormerSub otherwise."""
    spec = arch_from_json(arch, space_name)
    if _kind(space_name) == "pit":
        return PiTSub(spec, num_classes)
    return AutoFormerSub(spec, num_classes, img_size=32, patch_size=PATCHES[space_name])


# --------------------------------------------------------------------------- counting

def count_params(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _block_macs(tokens: int, dim: int, mlp_ratio: float) -> tuple[int, int]:
    """(Linear MACs, attention-matmul MACs) of one block over ``tokens`` tokens."""
    hidden = int(dim * mlp_ratio)
    return tokens * (4 * dim * dim + 2 * dim * hidden), 2 * tokens * tokens * dim


def _autoformer_macs(arch: dict, img_size: int, patch_size: int, num_classes: int) -> dict[str, int]:
    dim, n = arch["hidden_dim"], (img_size // patch_size) ** 2
    parts = [_block_macs(n + 1, dim, r) for r in arch["mlp_ratio"]]
    linear = n * dim * 3 * patch_size ** 2 + sum(p[0] for p in parts) + dim * num_classes
    return {"linear": linear, "attn": sum(p[1] for p in parts)}


def _pit_macs(arch: dict, img_size: int, num_classes: int) -> dict[str, int]:
    widths = [arch["base_dim"] * h for h in arch["num_heads"]]
    k = PIT_EMBED[0]
    grid = _conv_out(img_size, *PIT_EMBED)
    linear, attn = grid * grid * widths[0] * 3 * k * k, 0
    for s, (c, d) in enumerate(zip(widths, arch["depth"])):
        lin, att = _block_macs(grid * grid + 1, c, arch["mlp_ratio"])
        linear, attn = linear + d * lin, attn + d * att
        if s + 1 < len(widths):
            grid = _conv_out(grid, 3, 2, 1)
            linear += grid * grid * widths[s + 1] * 9 + c * widths[s + 1]
    return {"linear": linear + widths[-1] * num_classes, "attn": attn}


def vit_mac_parts(arch: ArchSpec, space_name: str, img_size: int = 32, patch_size: Optional[int] = None,
                  num_classes: int = 10) -> dict[str, int]:
    """Multiply-accumulates of one image: ``linear`` (every Conv2d/Linear: patch embed,
    qkv, proj, MLP, pooling, head) and ``attn`` (the QK^T and AV matmuls). LayerNorm,
    softmax, GELU and additions are not counted. ``patch_size`` (default: the space's, see
    :data:`PATCHES`) is for AutoFormer-style spaces; PiT's embed is fixed (:data:`PIT_EMBED`)."""
    spec = arch_from_json(arch, space_name)
    if _kind(space_name) == "pit":
        return _pit_macs(spec, img_size, num_classes)
    return _autoformer_macs(spec, img_size, patch_size or PATCHES[space_name], num_classes)


def vit_flops(arch: ArchSpec, space_name: str, img_size: int = 32, patch_size: Optional[int] = None,
              num_classes: int = 10) -> int:
    """Analytic multiply-accumulates of one image, attention matmuls included (see :func:`vit_mac_parts`)."""
    return sum(vit_mac_parts(arch, space_name, img_size, patch_size, num_classes).values())
