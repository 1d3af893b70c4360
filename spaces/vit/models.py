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
are plain dicts (or their JSON text), read by
:func:`evoproxy.spaces.vit.arch.arch_from_json`; :func:`build_vit` validates one and
builds its network.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from evoproxy.errors import EvoproxyError
from evoproxy.spaces.vit.arch import (PATCH_SIZE, PATCHES, PIT_EMBED, ArchSpec, arch_from_json, autoformer_shape,
                                      conv_out, pit_shape, space_kind)

LN_EPS = 1e-6


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
        dim, depth = autoformer_shape(arch)
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
        widths = pit_shape(arch)
        _need_classes(num_classes)
        self.img_size = img_size
        grid = conv_out(img_size, *PIT_EMBED)
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


def build_vit(space_name: str, arch: ArchSpec, num_classes: int = 10) -> nn.Module:
    """Build a validated arch at 32 px: PiTSub for ``pit``, AutoFormerSub otherwise."""
    spec = arch_from_json(arch, space_name)
    if space_kind(space_name) == "pit":
        return PiTSub(spec, num_classes)
    return AutoFormerSub(spec, num_classes, img_size=32, patch_size=PATCHES[space_name])
