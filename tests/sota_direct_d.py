"""Independent reference implementations (continued from ``sota_direct_b``): TE-NAS (NTK condition
number, linear regions, their rank sum) and GradSign, written from the papers and the authors'
released code under the conventions of ``sota_direct_b``'s docstring (sources listed there). Run
this file for the demo that prints AZ-NAS, TE-NAS and GradSign on three NB201 networks.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tests.sota_direct_b import (_logits, _ranks, _train_copy, aznas_aggregate, aznas_complexity,  # noqa: F401
                                 aznas_expressivity, aznas_init, aznas_progressivity, aznas_trainability)

# ---------------------------------------------------------------------------------------------
# TE-NAS
# ---------------------------------------------------------------------------------------------

def tenas_ntk_cond(model: nn.Module, x: torch.Tensor, y: Optional[torch.Tensor] = None) -> float:
    """TE-NAS kappa = lambda_max(Theta) / lambda_min(Theta), Theta = J J^T, J_i = d(sum_c f_c(x_i))/d theta.

    LOWER is better: TE-NAS ranks architectures by -kappa (AZ-NAS's port returns ``-1 * cond``;
    TE-NAS's pruning prefers the op whose removal increases kappa least). Source: TE-NAS paper
    (condition number of the empirical NTK at initialisation; section not verified); repo TENAS
    ``lib/procedures/ntk.py::get_ntk_n`` and AZ-NAS ``NB201/ZeroShotProxy/compute_te_nas_score.py``.

    Choices (as in the released code):

    * ``y`` is unused (label-free); train mode; one forward of the whole batch (BN batch
      statistics couple the samples), then for each sample i one backward of
      ``logits[i].sum()`` (grad_outputs = ones over the classes) through that same graph.
    * theta = every parameter whose *name contains "weight"* and has a gradient: Conv2d, Linear
      and BatchNorm weights (gammas); biases (BN betas, classifier bias) are excluded.
    * Theta = G G^T with G the (B x P) stack of those flattened gradients (float64 Gram here);
      eigenvalues ascending by ``eigh``; kappa = last / first; NaN -> 1e5 (``np.nan_to_num(...,
      nan=100000.0)``; +inf would become float max).
    * Batch: TENAS ``prune_launch.py`` uses 72 real CIFAR images for NB201 (one batch, 3 repeats
      averaged); AZ-NAS's port uses one batch of 64 real training images. Init: TENAS asks for
      'kaiming_normal' but its ``init_model`` recognises only 'kaiming_norm_*', so the released
      code effectively keeps PyTorch's default init; AZ-NAS's port does not re-init either.
    """
    net = _train_copy(model)
    named = [(n, p) for n, p in net.named_parameters() if "weight" in n and p.requires_grad]
    logits = _logits(net(x))
    rows = []
    for i in range(logits.shape[0]):
        grads = torch.autograd.grad(logits[i].sum(), [p for _, p in named], retain_graph=True,
                                    allow_unused=True)
        rows.append(torch.cat([g.reshape(-1) for g in grads if g is not None]).to(torch.float64))
    g = torch.stack(rows)
    ntk = g @ g.T
    eig = torch.linalg.eigvalsh(ntk)
    cond = float(eig[-1] / eig[0])
    return float(np.nan_to_num(cond, nan=100000.0))


def tenas_linear_regions(model: nn.Module, x: torch.Tensor) -> float:
    """TE-NAS #LR = number of distinct ReLU activation patterns over the samples of ``x``.

    Computed as sum_i 1 / #{j : pattern_j == pattern_i}, which is exactly the number of distinct
    rows. HIGHER is better. Source: TE-NAS paper (number of linear regions; section not
    verified);
    repo TENAS ``lib/procedures/linear_region_counter.py`` (``LinearRegionCount.calc_LR`` /
    ``Linear_Region_Collector``) and AZ-NAS ``compute_te_nas_score.py::compute_RN_score``.

    Choices (as in the released code):

    * Forward hooks on every ``nn.ReLU`` module whose input is 4-D (so a ReLU after global
      pooling would be skipped); on NB201 these are the ReLU at the head of every ReLUConvBN
      (cell convs and both convs of each reduction block) and ``lastact``'s ReLU. Functional
      relus are not seen. Each hooked output, in call order, is flattened per sample and
      concatenated; pattern = sign(output) in {0, 1} (exact zero = inactive).
    * Train mode (BN batch statistics), no grad, one batch (AZ-NAS's port: ``sample_batch=1``,
      ``torch.randn(64, 3, 32, 32)``, default init). The original TE-NAS counts on a *thin*
      supernet (C=1, N=1, no stem) with 3 batches of 1000 single-channel 3x3 crops of real images;
      that does not apply to a stand-alone NB201 network, so the AZ-NAS/ZenNAS port is followed.
    * The released code tests equality via a half-precision Hamming-distance matrix; any positive
      distance stays positive, so it is the same count as the exact ``unique`` used here.
    """
    net = _train_copy(model)
    outs: list[torch.Tensor] = []

    def hook(m, inp, out):
        if isinstance(inp, tuple) and inp[0].dim() == 4:
            outs.append((out.detach() > 0).reshape(out.shape[0], -1))

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.ReLU)]
    with torch.no_grad():
        net(x)
    for h in handles:
        h.remove()
    if not outs:
        return float("nan")
    patterns = torch.cat(outs, dim=1).to(torch.uint8)
    _, inverse, counts = torch.unique(patterns, dim=0, return_inverse=True, return_counts=True)
    return float((1.0 / counts[inverse].to(torch.float64)).sum())


def tenas_aggregate(ntk_conds: Sequence[float], linear_regions: Sequence[float]) -> list[float]:
    """TE-NAS rank combination over a set of architectures: rank(-kappa) + rank(#LR).

    Source: AZ-NAS ``NB201/tss_general.ipynb`` te_nas branch (``rank_agg = rankdata(ntk) +
    rankdata(linear_region)`` with ``ntk = -cond``), following TE-NAS ``prune_tenas.py``, which sums
    the two rankings of candidate ops (kappa change descending, #LR change ascending) and picks
    by the smallest sum. Ranks are ``scipy.stats.rankdata`` (ascending, ties averaged); the result
    is higher-is-better and depends on the whole set. (TE-NAS's pruning itself ranks *relative
    changes* rounded to 3 significant digits with dense ranks; that is specific to pruning a
    supernet and is not reproduced here.)
    """
    if len(ntk_conds) != len(linear_regions):
        raise ValueError("one kappa and one #LR per architecture")
    neg = -np.asarray(ntk_conds, dtype=np.float64)
    return (_ranks(neg) + _ranks(linear_regions)).tolist()


# ---------------------------------------------------------------------------------------------
# GradSign
# ---------------------------------------------------------------------------------------------

def gradsign(model: nn.Module, x: torch.Tensor, y: torch.Tensor, reduce: str = "sum") -> float:
    """GradSign = sum_k | sum_i sign( d l(f(x_i), y_i) / d theta_k ) |  (``reduce="mean"``: / P).

    HIGHER is better. Source: GradSign paper (GradSign approximates its bound Psi by the
    agreement of per-sample gradient signs at initialisation, per the abstract; section/equation
    number not verified); repo GradSign
    ``zero-cost-nas-code/foresight/pruners/measures/grad_conflict.py`` (measure
    ``grad_conflict``, used for the paper's Spearman/NB201 runs, ``np.nansum``) and
    ``naswot-code/gradsign.py`` (Kendall runs, ``np.nanmean``).

    Choices (as in the released code):

    * Per-sample gradients by B separate forward+backward passes on the single image
      ``x[i:i+1]`` in train mode, so BatchNorm normalises each image with its own spatial
      statistics (not the batch's); loss = cross-entropy with ``y[i:i+1]``.
    * theta = the ``weight`` of every nn.Conv2d and nn.Linear (module order), no biases, no BN;
      a weight without gradient contributes zeros; sign(0) = 0.
    * ``reduce="sum"`` (default): zero-cost-nas-code's ``np.nansum``; the NB201 results file read
      by ``gs.py`` is ``201_results_batch_128/sum/...``. ``reduce="mean"`` divides by the number P
      of weights (naswot-code, and AZ-NAS's port ``compute_gradsign_score.py``); the two rank
      architectures differently because P varies.
    * Batch: 128 real training images (``nasbench2_pred.py --batch_size 128``, seed 42); init:
      PyTorch default (``--init_w_type none``).
    """
    if reduce not in ("sum", "mean"):
        raise ValueError("reduce must be 'sum' or 'mean'")
    net = _train_copy(model)
    layers = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    code = None
    for i in range(x.shape[0]):
        net.zero_grad(set_to_none=True)
        loss = F.cross_entropy(_logits(net(x[i:i + 1])), y[i:i + 1])
        loss.backward()
        flat = torch.cat([(m.weight.grad if m.weight.grad is not None else torch.zeros_like(m.weight))
                          .reshape(-1) for m in layers])
        s = torch.sign(flat).to(torch.int64)
        code = s if code is None else code + s
    agree = code.abs().to(torch.float64)
    return float(agree.sum() if reduce == "sum" else agree.mean())


# ---------------------------------------------------------------------------------------------
# demo
# ---------------------------------------------------------------------------------------------

if __name__ == "__main__":
    import time

    from evoproxy.spaces.nb201 import build_nb201

    # one intra-op thread: on a small, shared CPU box OpenMP contention made backward passes ~10x slower
    torch.set_num_threads(1)
    archs = [
        "|nor_conv_3x3~0|+|nor_conv_3x3~1|skip_connect~0|+|skip_connect~0|nor_conv_1x1~1|avg_pool_3x3~2|",
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|",
        "|avg_pool_3x3~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|skip_connect~2|",
    ]
    torch.manual_seed(0)
    nets = [build_nb201(a, num_classes=10) for a in archs]
    x = torch.randn(64, 3, 32, 32)
    y = torch.randint(0, 10, (64,))

    az: dict[str, list[float]] = {"expressivity": [], "progressivity": [], "trainability": [], "complexity": []}
    te_k: list[float] = []
    te_lr: list[float] = []
    values: list[float] = []
    for arch, net in zip(archs, nets):
        t0 = time.perf_counter()
        torch.manual_seed(1)
        az_net = aznas_init(net)  # AZ-NAS scores a Kaiming-normal (fan-in) re-initialised copy
        row = {
            "az_expressivity": aznas_expressivity(az_net, x),
            "az_progressivity": aznas_progressivity(az_net, x),
            "az_trainability": aznas_trainability(az_net, x, y),
            "az_complexity_MFLOPs": aznas_complexity(net, x),
            # TE-NAS and GradSign as released: PyTorch default init
            "tenas_ntk_cond": tenas_ntk_cond(net, x, y),
            "tenas_linear_regions": tenas_linear_regions(net, x),
            "gradsign_sum": gradsign(net, x, y),
            "gradsign_mean": gradsign(net, x, y, reduce="mean"),
        }
        dt = time.perf_counter() - t0
        for k in az:
            az[k].append(row[f"az_{k}" if k != "complexity" else "az_complexity_MFLOPs"])
        te_k.append(row["tenas_ntk_cond"])
        te_lr.append(row["tenas_linear_regions"])
        values.extend(row.values())
        print(arch)
        for k, v in row.items():
            print(f"    {k:22s} {v: .6g}")
        print(f"    seconds                {dt:.2f}")
    print("AZ-NAS aggregate (higher better):", [round(v, 4) for v in aznas_aggregate(az)])
    print("TE-NAS aggregate (higher better):", tenas_aggregate(te_k, te_lr))
    assert all(math.isfinite(v) for v in values), "a proxy value is not finite"
