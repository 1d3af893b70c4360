"""Independent reference implementations of three published zero-cost NAS proxies.

AZ-NAS (Lee & Ham, CVPR 2024) here; TE-NAS (Chen, Gong & Wang, ICLR 2021) and GradSign
(Zhang & Jia, ICLR 2022) in ``sota_direct_d``. Written from the papers and the authors' released code, in plain
PyTorch / NumPy / SciPy. They are meant as ground truth for tests of the project's own
(formula-based) versions, so nothing here imports ``evoproxy`` (except the ``__main__`` demo).

Sources read (bare git snapshots):

* AZ-NAS: ``github.com/cvlab-yonsei/AZ-NAS`` (HEAD 5e6683a), files
  ``NB201/ZeroShotProxy/compute_az_nas_score.py`` (the four proxies),
  ``NB201/custom/tss_model.py`` (``TinyNetwork.extract_cell_features``: which tensors are hooked),
  ``NB201/tss_general.ipynb`` (batch size, BN mode, the rank aggregation, FLOPs from the API,
  and the notebook's printed result), ``NB201/ZeroShotProxy/compute_te_nas_score.py`` and
  ``compute_gradsign_score.py`` (AZ-NAS's ports of the two other proxies).
* TE-NAS: ``github.com/VITA-Group/TENAS`` (HEAD), ``lib/procedures/ntk.py``,
  ``lib/procedures/linear_region_counter.py``, ``prune_tenas.py``, ``prune_launch.py``.
* GradSign: ``github.com/cmu-catalyst/GradSign`` (HEAD 26412be),
  ``zero-cost-nas-code/foresight/pruners/measures/grad_conflict.py``,
  ``zero-cost-nas-code/foresight/pruners/p_utils.py``, ``zero-cost-nas-code/nasbench2_pred.py``,
  ``zero-cost-nas-code/gs.py``, ``naswot-code/gradsign.py``.
* FLOPs as NAS-Bench-201 counts them: xautodl ``utils/flop_benchmark.py`` (copy in TENAS
  ``lib/utils/flop_benchmark.py``).

Conventions shared by every function below:

* The model is never modified: each function works on ``copy.deepcopy(model)``.
* Everything runs in ``train()`` mode (BatchNorm normalises with the statistics of the batch it
  sees), as all three released codes do.
* No function re-initialises the weights; the papers' initialisations are separate helpers
  (:func:`aznas_init`) applied by the caller (the ``__main__`` demo does).
* Network arithmetic stays in the model's dtype (float32); the linear algebra on the collected
  quantities (covariances, eigen/singular values, NTK Gram) is done in float64.
"""
from __future__ import annotations

import copy
import math
from typing import Optional, Sequence

import numpy as np
import scipy.stats
import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "aznas_init", "aznas_features", "aznas_expressivity", "aznas_progressivity",
    "aznas_trainability", "aznas_complexity", "aznas_aggregate",
    "tenas_ntk_cond", "tenas_linear_regions", "tenas_aggregate",
    "gradsign",
]


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------

def _train_copy(model: nn.Module) -> nn.Module:
    net = copy.deepcopy(model)
    net.train()
    net.zero_grad(set_to_none=True)
    return net


def _logits(out):
    # xautodl's TinyNetwork returns (features, logits); the project's NB201Network returns logits
    return out[1] if isinstance(out, tuple) else out


def _nan_to_neg_inf(v: float) -> float:
    return -math.inf if math.isnan(v) else float(v)


def aznas_init(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` re-initialised as AZ-NAS does before scoring.

    AZ-NAS ``compute_az_nas_score.py`` default ``init_method='kaiming_norm_fanin'``:
    Conv2d / Linear weights ``kaiming_normal_(mode='fan_in', nonlinearity='relu')``, their biases
    zero; BatchNorm2d / GroupNorm with affine parameters: weight 1, bias 0. Draws from torch's
    global RNG (seed it before calling).
    """
    net = copy.deepcopy(model)
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return net


def aznas_features(net: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """The tensors AZ-NAS scores: the stem output, then the output of every entry of ``cells``.

    Mirrors ``TinyNetwork.extract_cell_features`` (AZ-NAS ``NB201/custom/tss_model.py``): on
    NAS-Bench-201 that is stem (conv3x3+BN) + 15 searched cells + the 2 ResNet reduction blocks
    = 18 feature maps, all (B, C, H, W). ``lastact``, pooling and the classifier are not used.
    The graph is kept (no ``detach``) so the trainability VJPs can run through it.
    """
    if not (hasattr(net, "stem") and hasattr(net, "cells")):
        raise TypeError("AZ-NAS needs an NB201-style network with `stem` and `cells` attributes")
    feats = [net.stem(x)]
    for cell in net.cells:
        feats.append(cell(feats[-1]))
    return feats


# ---------------------------------------------------------------------------------------------
# AZ-NAS
# ---------------------------------------------------------------------------------------------

def _isotropy_entropy(feat: torch.Tensor) -> float:
    """Entropy of the normalised eigenvalue spectrum of the channel covariance of one feature map."""
    b, c, h, w = feat.shape
    f = feat.detach().to(torch.float64).permute(0, 2, 3, 1).reshape(b * h * w, c)
    f = f - f.mean(dim=0, keepdim=True)
    sigma = f.T @ f / f.shape[0]
    s = torch.linalg.eigvalsh(sigma)
    p = s / s.sum()
    return float((-p * torch.log(p + 1e-8)).sum())


def _expressivity_per_feature(model: nn.Module, x: torch.Tensor) -> list[float]:
    net = _train_copy(model)
    with torch.no_grad():
        feats = aznas_features(net, x)
    return [_isotropy_entropy(f) for f in feats]


def aznas_expressivity(model: nn.Module, x: torch.Tensor) -> float:
    """AZ-NAS expressivity s^E = sum_l H(l), H(l) = -sum_k p_k log(p_k + 1e-8), p = eig(Sigma_l)/sum eig.

    Source: AZ-NAS paper, expressivity proxy (isotropy of the feature space measured by the
    entropy of the normalised PCA eigenvalues; section/equation number not verified, the paper
    text was not readable here, only its abstract); repo ``NB201/ZeroShotProxy/compute_az_nas_score.py``
    ("expressivity & progressivity scores" block) and ``NB201/custom/tss_model.py``.

    Choices (all as in the released code):

    * Features l = 0..L-1 are the stem output and the output of each of ``model.cells``
      (18 on NB201, reduction blocks included), see :func:`aznas_features`; train-mode BN.
    * Each (B, C, H, W) map is treated as B*H*W samples of a C-dim vector; mean-centred per
      channel; Sigma = F^T F / (B*H*W) (biased); eigenvalues by ``eigvalsh`` (float64 here, float32
      in the released code); p = s / sum(s) (tiny negative eigenvalues are kept as they are).
    * Natural log, epsilon 1e-8 inside the log; the sum over l is unweighted.
    * NaN (e.g. an all-zero feature map, sum(s) = 0) -> -inf, as the released code does.
    * Input: the released NB201 code uses ``torch.randn(64, 3, 32, 32)`` (random Gaussian images,
      batch 64, from ``configs/nas-benchmark/algos/weight-sharing.config``), not real data.
    """
    return _nan_to_neg_inf(float(np.sum(_expressivity_per_feature(model, x))))


def aznas_progressivity(model: nn.Module, x: torch.Tensor) -> float:
    """AZ-NAS progressivity s^P = min_{l=1..L-1} (H(l) - H(l-1)), H as in :func:`aznas_expressivity`.

    Source: AZ-NAS paper, progressivity proxy (expressivity should grow with depth; the minimum
    increment over consecutive stages; section number not verified); repo ``compute_az_nas_score.py``
    (``np.min(expressivity_scores[1:] - expressivity_scores[:-1])``).

    Choices: same features and entropy as expressivity (stem + every cell, consecutive pairs
    including the reduction blocks: 17 differences on NB201); NaN -> -inf.
    """
    h = np.asarray(_expressivity_per_feature(model, x), dtype=np.float64)
    return _nan_to_neg_inf(float(np.min(h[1:] - h[:-1])))


def aznas_trainability(model: nn.Module, x: torch.Tensor, y: Optional[torch.Tensor] = None,
                       seed: int = 0, generator: Optional[torch.Generator] = None) -> float:
    """AZ-NAS trainability s^T = mean_l ( -sigma_max(M_l) - 1/(sigma_max(M_l) + 1e-6) + 2 ).

    M_l = (1/N) G_in^T G_out with G_out (N x C_out) a Rademacher cotangent at feature l and G_in
    (N x C_in) = its vector-Jacobian product back to feature l-1, rows = the N = B*H_out*W_out
    spatial positions of the batch. Source: AZ-NAS paper, trainability proxy (the spectral norm of
    each block's Jacobian should be close to 1; -s - 1/s + 2 peaks at s = 1; section number not
    verified); repo
    ``compute_az_nas_score.py`` ("trainability score" block).

    Choices (as in the released code unless stated):

    * ``y`` is unused: the cotangent is random, not a loss gradient (kept in the signature only).
    * Pairs (l-1, l) for l = L-1 down to 1 over the 18 features of :func:`aznas_features`
      (17 pairs on NB201); G_out = 2 * Bernoulli(0.5) - 1 of f_l's shape, drawn in that order
      (deepest pair first) from ``generator`` if given, else ``torch.Generator().manual_seed(seed)``.
      The released code draws from torch's global RNG right after its Kaiming re-init; passing a
      generator holding that RNG state reproduces its draws exactly.
    * G_in = d<f_l, G_out>/d f_{l-1} through the train-mode graph (BN batch statistics included).
    * If G_in has the same shape as G_out and equals it exactly (the block is an identity for
      gradients, e.g. a cell ``skip + none + none`` into node 3) the pair scores -inf.
    * If the spatial size halves (reduction block), G_in is ``pixel_unshuffle``d by
      stride = H_in / H_out to (B, C_in*s^2, H_out, W_out) before flattening.
    * Both are flattened channels-last to (B*H_out*W_out, C); M = G_in^T G_out / (B*H_out*W_out);
      sigma_max = largest singular value (float64 here); epsilon 1e-6.
    * Mean over pairs (arithmetic, unweighted); NaN -> -inf.
    """
    gen = generator if generator is not None else torch.Generator(device=x.device).manual_seed(seed)
    net = _train_copy(model)
    feats = aznas_features(net, x)
    scores: list[float] = []
    for i in reversed(range(1, len(feats))):
        f_out, f_in = feats[i], feats[i - 1]
        g_out = (torch.bernoulli(torch.full_like(f_out, 0.5), generator=gen) - 0.5) * 2
        (g_in,) = torch.autograd.grad(f_out, f_in, grad_outputs=g_out, retain_graph=True)
        if g_in.shape == g_out.shape and bool(torch.all(g_in == g_out)):
            scores.append(-math.inf)
            continue
        if g_in.shape[2:] != g_out.shape[2:]:
            stride = g_in.shape[2] // g_out.shape[2]
            g_in = F.pixel_unshuffle(g_in, stride)
        bo, co, ho, wo = g_out.shape
        go = g_out.detach().to(torch.float64).permute(0, 2, 3, 1).reshape(bo * ho * wo, co)
        gi = g_in.detach().to(torch.float64).permute(0, 2, 3, 1).reshape(bo * ho * wo, -1)
        mat = gi.T @ go / (bo * ho * wo)
        smax = float(torch.linalg.svdvals(mat).max())
        scores.append(-smax - 1.0 / (smax + 1e-6) + 2.0)
    return _nan_to_neg_inf(float(np.mean(scores)))


def aznas_complexity(model: nn.Module, x: Optional[torch.Tensor] = None) -> float:
    """AZ-NAS complexity s^C = FLOPs of one image, in millions, counted as NAS-Bench-201 does.

    Source: AZ-NAS paper, complexity proxy (FLOPs, higher ranked better; section not verified); the NB201
    notebook ``tss_general.ipynb`` takes ``api.get_compute_costs(dataset)['flops']`` from the
    NATS-Bench API rather than measuring; the API's numbers come from xautodl
    ``get_model_infos`` (``utils/flop_benchmark.py``), which this re-implements:

    * Conv2d: k_h * k_w * C_in * C_out / groups * H_out * W_out multiply-accumulates, plus
      C_out * H_out * W_out if it has a bias; Linear: in * out, plus out if it has a bias.
    * Pooling, BatchNorm, ReLU, additions and the ``none`` (Zero) op are not counted (xautodl
      registers pooling hooks but leaves them out of the sum).
    * Every call of a module counts; one image of shape ``x.shape[1:]`` (default 3x32x32, i.e.
      CIFAR; ImageNet16-120 uses 3x16x16), eval mode, divided by 1e6.

    Check: this gives 153.27 for ``|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|
    nor_conv_1x1~1|nor_conv_3x3~2|`` with 10 classes, the API's value printed in the notebook.
    """
    shape = (1, 3, 32, 32) if x is None else (1, *x.shape[1:])
    net = copy.deepcopy(model).eval()
    total = [0.0]

    def conv_hook(m: nn.Conv2d, inp, out):
        kh, kw = m.kernel_size
        per_pos = kh * kw * m.in_channels * m.out_channels / m.groups
        positions = out.shape[0] * out.shape[2] * out.shape[3]
        total[0] += per_pos * positions + (m.out_channels * positions if m.bias is not None else 0)

    def fc_hook(m: nn.Linear, inp, out):
        rows = out.numel() // m.out_features
        total[0] += rows * m.in_features * m.out_features + (rows * m.out_features if m.bias is not None else 0)

    handles = []
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(fc_hook))
    p = next(net.parameters())
    with torch.no_grad():
        net(torch.rand(shape, dtype=p.dtype, device=p.device))
    for h in handles:
        h.remove()
    return total[0] / 1e6


def _ranks(values: Sequence[float]) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    v = np.where(np.isnan(v), -np.inf, v)
    return scipy.stats.rankdata(v)  # ascending, ties -> average rank, -inf ranked lowest


def aznas_aggregate(scores: dict[str, list[float]]) -> list[float]:
    """AZ-NAS non-linear rank aggregation: s^AZ(i) = sum_M log( rank_M(i) / n ).

    Source: AZ-NAS paper, non-linear ranking aggregation (its s^AZ equation, number not
    verified); repo
    ``NB201/tss_general.ipynb`` (``rank_agg += np.log(stats.rankdata(results[k]) / l)`` over
    ``complexity`` (API FLOPs) and the three computed proxies).

    Choices (as in the released code): ``scores`` maps each proxy name (normally
    ``expressivity``, ``progressivity``, ``trainability``, ``complexity``) to one value per
    architecture, all lists of equal length n (the whole set being ranked); every key is used,
    unweighted. Ranks are ``scipy.stats.rankdata`` (ascending: the highest score gets rank n,
    ties get their average rank); natural log; NaN is treated as -inf (the released code maps NaN
    proxy values to -inf before ranking). Output in [n*log(1/n), 0]; higher is better, 0 means
    ranked first by every proxy. Depends on the whole set, not on one architecture.
    """
    lengths = {len(v) for v in scores.values()}
    if len(lengths) != 1:
        raise ValueError(f"every proxy needs one value per architecture, got lengths {lengths}")
    (n,) = lengths
    agg = np.zeros(n, dtype=np.float64)
    for values in scores.values():
        agg += np.log(_ranks(values) / n)
    return agg.tolist()
