"""Size of ViT students: trainable parameters of a built model (:func:`count_params`)
and analytic multiply-accumulates of an arch spec (:func:`vit_mac_parts`, :func:`vit_flops`).
"""

from __future__ import annotations

from typing import Optional

from torch import nn

from evoproxy.spaces.vit.arch import PATCHES, PIT_EMBED, ArchSpec, arch_from_json, conv_out, space_kind


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
    grid = conv_out(img_size, *PIT_EMBED)
    linear, attn = grid * grid * widths[0] * 3 * k * k, 0
    for s, (c, d) in enumerate(zip(widths, arch["depth"])):
        lin, att = _block_macs(grid * grid + 1, c, arch["mlp_ratio"])
        linear, attn = linear + d * lin, attn + d * att
        if s + 1 < len(widths):
            grid = conv_out(grid, 3, 2, 1)
            linear += grid * grid * widths[s + 1] * 9 + c * widths[s + 1]
    return {"linear": linear + widths[-1] * num_classes, "attn": attn}


def vit_mac_parts(arch: ArchSpec, space_name: str, img_size: int = 32, patch_size: Optional[int] = None,
                  num_classes: int = 10) -> dict[str, int]:
    """Multiply-accumulates of one image: ``linear`` (every Conv2d/Linear: patch embed,
    qkv, proj, MLP, pooling, head) and ``attn`` (the QK^T and AV matmuls). LayerNorm,
    softmax, GELU and additions are not counted. ``patch_size`` (default: the space's, see
    :data:`PATCHES`) is for AutoFormer-style spaces; PiT's embed is fixed (:data:`PIT_EMBED`)."""
    spec = arch_from_json(arch, space_name)
    if space_kind(space_name) == "pit":
        return _pit_macs(spec, img_size, num_classes)
    return _autoformer_macs(spec, img_size, patch_size or PATCHES[space_name], num_classes)


def vit_flops(arch: ArchSpec, space_name: str, img_size: int = 32, patch_size: Optional[int] = None,
              num_classes: int = 10) -> int:
    """Analytic multiply-accumulates of one image, attention matmuls included (see :func:`vit_mac_parts`)."""
    return sum(vit_mac_parts(arch, space_name, img_size, patch_size, num_classes).values())
