"""Vision-transformer student spaces at CIFAR resolution (AutoFormer-Tiny, PiT, cifar-vit).

* :mod:`~evoproxy.spaces.vit.arch`: search-space constants, arch-spec parsing and
  validation (:func:`arch_from_json`), :func:`canonical` and :func:`sample_arch`;
* :mod:`~evoproxy.spaces.vit.models`: the torch modules (:class:`AutoFormerSub`,
  :class:`PiTSub` and their parts) and :func:`build_vit`;
* :mod:`~evoproxy.spaces.vit.counting`: :func:`count_params` and the analytic
  multiply-accumulate counts :func:`vit_mac_parts` and :func:`vit_flops`.

Every public name is re-exported here, so ``from evoproxy.spaces.vit import X`` works.
"""

from evoproxy.spaces.vit.arch import (AUTOFORMER_TINY, CIFAR_VIT, PATCH_SIZE, PATCHES, PIT_EMBED, PIT_SPACE, SPACES,
                                      ArchSpec, arch_from_json, autoformer_shape, canonical, conv_out, pit_shape,
                                      sample_arch, space_kind)
from evoproxy.spaces.vit.counting import count_params, vit_flops, vit_mac_parts
from evoproxy.spaces.vit.models import LN_EPS, Attention, AutoFormerSub, Block, PiTSub, Pool, build_vit

__all__ = [
    "AUTOFORMER_TINY", "CIFAR_VIT", "PATCH_SIZE", "PATCHES", "PIT_EMBED", "PIT_SPACE", "SPACES", "ArchSpec",
    "arch_from_json", "autoformer_shape", "canonical", "conv_out", "pit_shape", "sample_arch", "space_kind",
    "count_params", "vit_flops", "vit_mac_parts",
    "LN_EPS", "Attention", "AutoFormerSub", "Block", "PiTSub", "Pool", "build_vit",
]
