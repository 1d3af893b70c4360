"""Independent reference implementations (continued from ``sota_direct_a``): SWAP (+ regularised
SWAP), NASWOT and EPE-NAS, written from the papers and from reading the authors' public code (not
copied), under the conventions stated in ``sota_direct_a``'s docstring. Run this file for the demo
that prints all five proxies on three NB201 networks.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn

from tests.sota_direct_a import _Scratch, _logits, meco, meco_opt, zico  # noqa: F401  (the demo uses all)

# --------------------------------------------------------------------------- SWAP


def _pack_samples(bits: torch.Tensor) -> torch.Tensor:
    """(N, d) bool -> (d, ceil(N/64)) int64: neuron j's N-bit pattern, 64 samples per word.

    Bit 63 carries weight -2**63 (two's complement), so the packing is exact and injective
    without overflow."""
    n, d = bits.shape
    words = []
    for lo in range(0, n, 64):
        chunk = bits[lo:lo + 64].to(torch.int64)                    # (w, d)
        w = chunk.shape[0]
        weights = torch.tensor([(1 << j) if j < 63 else -(1 << 63) for j in range(w)], dtype=torch.int64)
        words.append((chunk * weights[:, None]).sum(dim=0))
    return torch.stack(words, dim=1)


def swap(model: nn.Module, x: torch.Tensor) -> float:
    """SWAP = | { (1[a_j(x_1)>0], ..., 1[a_j(x_N)>0]) : j a post-ReLU neuron } |  (distinct per-neuron patterns).

    Source: Peng et al., ICLR 2024, SWAP-Score definition, section not verified (cardinality of the set of unique
    sample-wise activation patterns, i.e. of the columns of the binarised (samples x neurons)
    matrix); code read: pym1024/SWAP ``src/metrics/swap.py`` (``SWAP.register_hook`` /
    ``hook_in_forward`` / ``collect_activations`` / ``calSWAP``) and ``correlation.py``.

    Choices (as the code):
    * Hooked modules: every ``isinstance(m, nn.ReLU)`` whose input is 4-D (conv feature maps;
      in NB201 that is every ReLU, the final ``lastact`` one included).
    * Tensor: the ReLU **output**, flattened per sample to (N, C*H*W); all hooked ReLUs are
      concatenated along the neuron axis -> A (N, total neurons).
    * Binarise: ``torch.sign(A)``; after a ReLU this is 1[A>0].
    * Count: transpose to (neurons, N) and count distinct rows (``torch.unique(dim=0)``): the
      number of distinct N-bit activation patterns over all neurons (bounded by 2^N and by the
      neuron count). Duplicate ReLUs reading the same tensor add no new patterns.
    * One forward pass, no grad, no labels, train mode. The authors' ``correlation.py`` uses
      a batch of 16 images (``--input_samples 16``), re-initialises weights N(0,1) (BN w=1,b=0)
      and averages 32 repeats; this function scores one batch with the given weights.
    """
    feats: list[torch.Tensor] = []
    seen: dict[int, torch.Tensor] = {}

    def hook(_module, inp, out) -> None:
        if isinstance(inp, tuple) and inp and inp[0].dim() == 4:
            # Two ReLUs fed the same tensor give identical outputs, hence no new pattern:
            # keep one (exact shortcut; the tensor is kept alive so its id is not reused).
            if id(inp[0]) in seen:
                return
            seen[id(inp[0])] = inp[0]
            feats.append(out.detach())

    with _Scratch(model) as s:
        for m in model.modules():
            if isinstance(m, nn.ReLU):
                s.hook(m, hook)
        with torch.no_grad():
            model(x)
    if not feats:
        return 0.0
    n = x.shape[0]
    packed = torch.cat([_pack_samples(f.reshape(n, -1) > 0) for f in feats], dim=0)   # (neurons, words)
    if packed.shape[1] == 1:
        return float(torch.unique(packed[:, 0]).numel())
    return float(torch.unique(packed, dim=0).shape[0])


def swap_param_count_k(model: nn.Module) -> float:
    """SWAP's model size Theta: all parameters (names without 'auxiliary'), in thousands (/1e3)."""
    return float(sum(p.numel() for name, p in model.named_parameters() if "auxiliary" not in name)) / 1e3


def reg_swap(model: nn.Module, x: torch.Tensor, mu: float, sigma: float) -> float:
    """Regularised SWAP = SWAP * exp( -(Theta - mu)^2 / sigma ),  Theta = #params / 1e3.

    Source: Peng et al., ICLR 2024, regularisation section, number not verified (f(Theta) =
    exp(-(Theta-mu)^2/sigma) applied multiplicatively, mu/sigma steer the model size);
    code read: pym1024/SWAP ``src/metrics/swap.py`` ``cal_regular_factor`` and
    ``src/utils/utilities.py`` ``count_parameters`` (sum of numel of named parameters without
    'auxiliary', divided by 1e3).

    Choices:
    * Theta in **thousands** of parameters (the code's unit; BN affine parameters included,
      buffers excluded). ``mu`` and ``sigma`` must be given in the same unit.
    * sigma divides the squared difference directly (it is not squared), as in the code.
    * mu, sigma are inputs: in the paper they are set per search space / size target, i.e.
      they depend on the set of architectures being ranked (exact NB201 values not verified).
    """
    theta = swap_param_count_k(model)
    return swap(model, x) * math.exp(-((theta - mu) ** 2) / sigma)


# --------------------------------------------------------------------------- NASWOT


def naswot(model: nn.Module, x: torch.Tensor, *, hooks: str = "authors") -> float:
    """NASWOT = log|det K|,  K = sum_r [ c_r c_r^T + (1-c_r)(1-c_r)^T ],  c_r = 1[input of r > 0] per sample.

    Source: Mellor et al., ICML 2021 (v2 of arXiv 2006.04647), the kernel K_H = N_A - d_H and
    score s = log|K_H| (section/equation number not verified); code read: BayesWatch/nas-without-training ``score_networks.py``
    (``counting_forward_hook`` / ``counting_backward_hook``, ``--batch_size 128``), ``scores.py``
    (``hooklogdet`` = ``np.linalg.slogdet(K)[1]``), ``scorehook.sh``; NASLib
    ``naslib/predictors/utils/pruners/measures/nwot.py``.

    Choices:
    * Hooked modules, ``hooks="authors"`` (default): every module with ``'ReLU' in
      str(type(module))`` - the authors' test. On NAS-Bench-201 (xautodl code, and this
      project's mirror of it) that is every ``nn.ReLU`` **and every ``ReLUConvBN`` wrapper**,
      whose class name contains "ReLU"; the wrapper's input is the same tensor as its inner
      ReLU's input, so each conv edge's code is counted **twice**, the final ``lastact`` ReLU
      once. ``hooks="relu"``: only ``isinstance(m, nn.ReLU)`` (NASLib excludes its own classes:
      ``'ReLU' in type and 'naslib' not in type``).
    * Tensor: the hooked module's **input** (``inp[0]``), flattened per sample; code
      c = 1[input > 0] (for a ReLU identical to 1[output > 0]).
    * K (N x N) = sum over hooked calls of c c^T + (1-c)(1-c)^T (= #positions where two samples
      agree), float64 (authors: float32 products added into a float64 numpy array).
    * Score: ``slogdet`` natural log of |det K|, the sign is ignored; singular K gives -inf.
    * The authors first run a backward pass (input Jacobian) and count only modules that
      received a backward call, then a second identical forward; in a network where every
      ReLU feeds the output (NB201) that gate is always open, so one forward is used here.
    * Train mode (BN batch statistics: codes depend on the whole batch). Paper/code batch 128.
    * Speed-ups (exact): one float32 matmul per distinct input tensor (integer counts < 2**24),
      reused when the same tensor object is read again (wrapper + inner ReLU, a node read by
      several edges); exact unless a model mutates a tensor in place between two such reads.
    """
    if hooks not in ("authors", "relu"):
        raise ValueError("hooks must be 'authors' or 'relu'")
    n = x.shape[0]
    K = torch.zeros(n, n, dtype=torch.float64)
    cache: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def hook(_module, inp, _out) -> None:
        t = inp[0] if isinstance(inp, tuple) else inp
        hit = cache.get(id(t))
        if hit is None or hit[0] is not t:
            # c c^T + (1-c)(1-c)^T = 2 c c^T - s 1^T - 1 s^T + d  (s = row sums, d = width);
            # integer counts, exact in float32 while d < 2**24.
            c = t.detach().reshape(t.shape[0], -1) > 0
            d = c.shape[1]
            cf = c.to(torch.float32 if d < 2 ** 24 else torch.float64)
            g = (cf @ cf.t()).to(torch.float64)
            r = c.sum(dim=1).to(torch.float64)
            hit = (t, 2.0 * g - r[:, None] - r[None, :] + float(d))
            cache[id(t)] = hit            # same input tensor (wrapper + inner ReLU, or a node
        K.add_(hit[1])                    # read by several edges): same code, reuse it

    with _Scratch(model) as s:
        for m in model.modules():
            hit = ("ReLU" in str(type(m))) if hooks == "authors" else isinstance(m, nn.ReLU)
            if hit:
                s.hook(m, hook)
        with torch.no_grad():
            model(x)
    _sign, logabsdet = np.linalg.slogdet(K.numpy())
    return float(logabsdet)


# --------------------------------------------------------------------------- EPE-NAS


def epe_nas(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, n_classes: int | None = None,
            k: float = 1e-5) -> float:
    """EPE-NAS: J = d(sum of logits)/dx per sample; per class c, E_c = sum_ij log(|corr(J_c)_ij| + 1e-5);
    score = sum_c |E_c| (<= 100 classes), else sum_{c,c'} |E_c/n_c - E_c'/n_c'| / #classes.

    Source: Lopes et al., ICANN 2021 (arXiv 2102.08099), method section, number not verified (per-class Jacobian correlation
    matrices, the two aggregations "A" for > 100 classes and "B" otherwise);
    code read: VascoLopes/EPE-NAS ``search.py`` (``get_batch_jacobian``,
    ``eval_score_perclass``, ``--batch_size 256``) and NASLib
    ``naslib/predictors/utils/pruners/measures/epe_nas.py``.

    Choices:
    * Jacobian: train mode, ``logits.backward(ones)``: row i is d(sum over the batch and the
      classes of the logits)/d x_i, flattened (C*H*W). Because train-mode BN mixes samples,
      this is not a strict per-sample Jacobian - as in the authors' code.
    * Groups: samples grouped by their label ``y``; for a class with n_c >= 2 samples, the
      n_c x n_c Pearson correlation of the rows (``np.corrcoef``, diagonal included);
      E_c = sum of log(|corr| + k), natural log, k = 1e-5.
    * A class with one sample: ``np.corrcoef`` of one row is 1.0, so E_c = log(1 + k) in the
      <= 100-class case; in the > 100-class case the authors' ``len(corrs)`` raises on the 0-d
      array and the class is skipped - both replicated.
    * n_classes decides the branch. Default: the logits width (NASLib passes it). The
      authors' ``search.py`` never passes it (default 10), so it always uses branch B, even on
      ImageNet16-120; pass ``n_classes=10`` to reproduce that.
    * Branch A (> 100 classes): E_c /= n_c, then sum over ordered pairs |E_c - E_c'| divided by
      the number of classes seen.
    * NaN (a constant Jacobian row) propagates to the score, as in the authors' code.
    """
    with _Scratch(model):
        xx = x.detach().clone().requires_grad_(True)
        out = _logits(model(xx))
        out.backward(torch.ones_like(out))
        jac = xx.grad.detach().reshape(x.shape[0], -1).to(torch.float64).numpy()
        width = out.shape[-1]
    if n_classes is None:
        n_classes = width
    labels = y.detach().cpu().numpy()
    big = n_classes > 100
    per_class: dict = {}
    for c in dict.fromkeys(labels.tolist()):          # classes in order of first appearance
        rows = jac[labels == c]
        if rows.shape[0] == 1:
            if big:
                continue
            per_class[c] = math.log(1.0 + k)
            continue
        corr = np.corrcoef(rows)
        e = float(np.sum(np.log(np.abs(corr) + k)))
        if big:
            e /= rows.shape[0]
        per_class[c] = e
    vals = list(per_class.values())
    if not big:
        return float(sum(abs(v) for v in vals))
    if not vals:
        return 0.0
    total = sum(abs(a - b) for a in vals for b in vals)
    return float(total / len(vals))


# --------------------------------------------------------------------------- demo

if __name__ == "__main__":
    import time

    from evoproxy.spaces.nb201 import build_nb201

    ARCHS = [
        "|nor_conv_3x3~0|+|nor_conv_3x3~1|skip_connect~0|+|skip_connect~0|nor_conv_1x1~1|avg_pool_3x3~2|",
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|none~0|skip_connect~1|avg_pool_3x3~2|",
    ]
    torch.set_num_threads(1)   # a busy 2-core box: intra-op threads only spin
    torch.manual_seed(0)
    nets = [build_nb201(a, num_classes=10) for a in ARCHS]
    x = torch.randn(64, 3, 32, 32)
    y = torch.randint(0, 10, (64,))

    sizes = [swap_param_count_k(m) for m in nets]
    mu = float(np.mean(sizes))
    sigma = float(np.var(sizes)) or 1.0   # illustration only: exponent = squared z-score
    print(f"params (K): {[round(s, 1) for s in sizes]}  reg_swap demo mu={mu:.1f} sigma={sigma:.1f}")

    proxies = {
        "zico": lambda m: zico(m, x, y),
        "meco": lambda m: meco(m, x),
        "meco_opt": lambda m: meco_opt(m, x),
        "swap": lambda m: swap(m, x),
        "reg_swap": lambda m: reg_swap(m, x, mu, sigma),
        "naswot": lambda m: naswot(m, x),
        "naswot[relu]": lambda m: naswot(m, x, hooks="relu"),
        "epe_nas": lambda m: epe_nas(m, x, y),
    }
    t_all = time.perf_counter()
    bad = []
    for i, (arch, net) in enumerate(zip(ARCHS, nets)):
        print(f"net {i}: {arch}")
        t_net = time.perf_counter()
        for name, fn in proxies.items():
            t0 = time.perf_counter()
            v = fn(net)
            dt = time.perf_counter() - t0
            print(f"  {name:13s} {v:16.6f}   {dt:6.3f}s")
            if not math.isfinite(v):
                bad.append((i, name, v))
        print(f"  total for net {i}: {time.perf_counter() - t_net:.2f}s")
    print(f"all: {time.perf_counter() - t_all:.2f}s")
    if bad:
        raise SystemExit(f"non-finite values: {bad}")
