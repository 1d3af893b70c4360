"""Independent reference implementations of five published zero-cost NAS proxies.

ZiCo and MeCo (+ MeCo_opt) here; SWAP (+ regularised SWAP), NASWOT and EPE-NAS in
``sota_direct_c``. Written from the papers and from reading the authors' public code (not copied). They are the ground truth
that tests compare the project's formula-based proxies against, so every detail that
changes the number (which modules are hooked, input or output, BN mode, loss, splits,
logs, epsilons, aggregation, degenerate cases) is stated in each docstring.

Common conventions (all five authors' scripts do the same):
* The model is scored in **train mode** (BatchNorm uses the statistics of the batch that is
  fed). Every function switches the model to train mode and restores afterwards its modes,
  its BN running statistics and its parameters' ``.grad``; hooks are removed. The scored
  model is therefore left as it was found.
* Weights are used as given (no re-initialisation). SWAP's and Zen/NASWOT-style scripts of
  some authors re-initialise with N(0, 1) before scoring; that is the caller's business.
* A model whose ``forward`` returns a tuple/list is read as ``(..., logits)`` (the last item,
  xautodl's ``(features, logits)``) wherever logits are needed.
* Numerics in float64 where the authors used float32 (corr/eig/std); the differences are at
  the level of float32 rounding.

Only torch and math are imported (evoproxy only in ``sota_direct_c``'s ``__main__`` demo).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


# --------------------------------------------------------------------------- helpers


class _Scratch:
    """Run a proxy on ``model`` and leave no trace: restores train/eval flags, buffers
    (BN running stats), parameter grads, and removes every hook registered via ``hook``."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.handles: list = []

    def hook(self, module: nn.Module, fn) -> None:
        self.handles.append(module.register_forward_hook(fn))

    def __enter__(self) -> "_Scratch":
        m = self.model
        self._modes = [(mod, mod.training) for mod in m.modules()]
        self._bufs = [(b, b.detach().clone()) for b in m.buffers()]
        self._grads = [(p, p.grad) for p in m.parameters()]
        for p in m.parameters():
            p.grad = None
        m.train()
        return self

    def __exit__(self, *exc) -> None:
        for h in self.handles:
            h.remove()
        with torch.no_grad():
            for b, saved in self._bufs:
                b.copy_(saved)
        for p, g in self._grads:
            p.grad = g
        for mod, mode in self._modes:
            mod.training = mode


def _logits(out):
    """Logits from a forward output (tuple/list -> last item, as xautodl's (features, logits))."""
    if isinstance(out, (tuple, list)):
        return out[-1]
    return out


# --------------------------------------------------------------------------- ZiCo


def zico(model: nn.Module, x: torch.Tensor, y: torch.Tensor, splits: int = 2) -> float:
    """ZiCo = sum_l log( sum_{w in l, std_w != 0} mean_s|g_{s,w}| / std_s(g_{s,w}) ).

    Source: Li et al., ICLR 2023, the ZiCo definition (sum over layers of log of the summed
    per-weight E|g| / sqrt(Var g)); section/equation number not verified (only the abstract of
    the paper was readable here);
    code read: SLDGroup/ZiCo ``ZeroShotProxy/compute_zico.py`` (getgrad / caculate_zico /
    getzico) and ``evolution_search.py`` (``--maxbatch`` default 2, ``nn.CrossEntropyLoss()``);
    also the ports HamsterMimi/MeCo ``correlation/foresight/pruners/measures/zico.py`` and
    cvlab-yonsei/AZ-NAS ``NB201/ZeroShotProxy/compute_zico_score.py``.

    Choices (each as in the official code unless said otherwise):
    * Layers: every ``nn.Conv2d`` and ``nn.Linear`` module, **weight** gradient only (no bias,
      no BN parameters); the downsample 1x1 conv and the classifier are included.
    * Batches: ``x`` is cut into ``splits`` contiguous chunks ``[s*N//S, (s+1)*N//S)`` (the
      MeCo-repo port's split of one batch; the official script uses ``maxbatch=2`` separate
      loader batches - same thing). Gradients are **zeroed before every chunk** (official
      code and AZ-NAS). The MeCo-repo port forgets to zero them, so its 2nd "sample" is
      g1+g2 - not followed.
    * Loss: cross-entropy with mean reduction over the chunk, model in train mode (BN uses
      the chunk's statistics).
    * Per weight w: mean over chunks of |g| and the population std (``np.std``, ddof=0) of g.
      With S = 2: mean = (|g1|+|g2|)/2, std = |g1-g2|/2.
    * Zero std: weights whose std is exactly 0 are dropped (``np.nonzero(std)``). If a layer's
      sum is exactly 0 (e.g. no weight left) the layer is skipped (adds 0), not log(0).
    * Natural log, per layer, then summed over layers (``nsr_mean_sum_abs``; the per-layer
      *mean* variant the code also computes is unused).
    * A layer whose weight has no gradient (``None``) in some chunk is skipped (AZ-NAS port;
      the official code would crash).
    * Paper setting: the official NAS script uses 2 batches of ``batch_size`` (128 in its
      ImageNet scripts); the NB201 correlation batch size was not verified.
    * Numerical sensitivity (inherent to the formula, not to this code): with S = 2 a weight
      whose two chunk gradients nearly coincide has std ~ 0 and a huge ratio; on NB201 a
      single weight can carry most of a layer's sum (e.g. one stem weight with ratio ~8e4 of a
      layer total ~8e4). Gradient rounding (thread count, float32 vs float64, summation
      order) moves the total by ~0.1%, so compare against this reference with rel ~1e-2,
      or compute the gradients identically.
    """
    n = x.shape[0]
    if splits < 2 or n < splits:
        raise ValueError("zico needs splits >= 2 and at least one sample per split")
    with _Scratch(model):
        layers = [(name, m) for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        grads: dict[str, list[torch.Tensor]] = {name: [] for name, _ in layers}
        for s in range(splits):
            lo, hi = s * n // splits, (s + 1) * n // splits
            for p in model.parameters():
                p.grad = None
            loss = F.cross_entropy(_logits(model(x[lo:hi])), y[lo:hi])
            loss.backward()
            for name, m in layers:
                if m.weight.grad is not None:
                    grads[name].append(m.weight.grad.detach().reshape(-1).to(torch.float64).clone())
        total = 0.0
        for name, gl in grads.items():
            if len(gl) != splits:
                continue
            g = torch.stack(gl)                      # (S, numel)
            std = g.std(dim=0, unbiased=False)
            mean_abs = g.abs().mean(dim=0)
            keep = std != 0
            ratio_sum = float((mean_abs[keep] / std[keep]).sum())
            if ratio_sum == 0.0:
                continue
            total += math.log(ratio_sum)
        return total


# --------------------------------------------------------------------------- MeCo


def _meco_core(model: nn.Module, x: torch.Tensor, k: int | None, seed: int, whole_batch: bool,
               module_types: tuple | None) -> float:
    gen = torch.Generator().manual_seed(seed)
    values: list[float] = []

    def hook(_module, _inp, out) -> None:
        if isinstance(out, torch.Tensor):
            if out.dim() < 2:
                return
            fea = out[0]                       # sample 0 of this module's output
        elif isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
            fea = out[0]                       # authors' data_output[0] on a tuple: first item
        else:
            return
        if fea.dim() == 0 or fea.shape[0] < 2:
            return                             # authors: corrcoef of one row is 0-d, eig fails
        fea = fea.detach().to(torch.float64).reshape(fea.shape[0], -1)
        rows = fea.shape[0]
        if fea.shape[1] < 2:
            values.append(0.0)                 # one column: corrcoef all NaN -> 0 matrix -> 0
            return
        scale = 1.0
        if k is not None:
            kk = min(k, rows)
            idx = torch.randperm(rows, generator=gen)[:kk]
            fea = fea[idx]
            scale = rows / kk
        corr = torch.nan_to_num(torch.corrcoef(fea), nan=0.0, posinf=0.0, neginf=0.0)
        lam = float(torch.linalg.eigvalsh(corr).min()) * scale
        values.append(lam)

    with _Scratch(model) as s:
        for m in model.modules():
            if module_types is None or isinstance(m, module_types):
                s.hook(m, hook)
        with torch.no_grad():
            model(x if whole_batch else x[:1])
    finite = [v for v in values if math.isfinite(v)]
    return float(sum(finite))


def meco(model: nn.Module, x: torch.Tensor, *, whole_batch: bool = False,
         module_types: tuple | None = None) -> float:
    """MeCo = sum over every module m of lambda_min( corr_rows( f_m(x_0) reshaped (C_m, H_m*W_m) ) ).

    Source: Jiang et al., NeurIPS 2023, the MeCo definition ("MeCo = sum_i lambda_min(P(f^i(X)))",
    P = Pearson correlation matrix of the channels of layer i's feature map on ONE sample;
    section/equation number not verified - abstract read: "one random data", "single forward pass");
    code read: HamsterMimi/MeCo ``correlation/NAS_Bench_201.py`` (``get_score``, ``--batch_size 1``,
    ``--data_size 32``) and ``correlation/foresight/pruners/measures/meco.py`` (Zero-Cost-PT
    variant, which ignores the data and feeds ``randn(1,3,64,64)``).

    Choices:
    * Hooked modules: a forward hook on **every module of ``model.modules()``**, the root model,
      containers (Sequential, wrappers, cells) and leaves alike (authors: ``net.named_modules()``).
      Identical tensors are therefore counted several times (e.g. a Sequential's output equals
      its last child's). A ModuleList is never called, so it adds nothing.
    * Tensor: the module **output**, sample 0 (authors: ``data_output[0]``). If the output is a
      tuple/list, the authors' ``data_output[0]`` is its first item (whole batch) - replicated.
    * Matrix: reshape to (shape[0], -1) = (channels, H*W) for conv maps; ``torch.corrcoef`` of
      the rows (channels); NaN/inf entries (constant channels, single-column rows such as
      logits (C,1) or pooled maps (C,1,1)) set to 0; smallest eigenvalue (symmetric solver,
      float64; authors: ``torch.linalg.eig`` real part, float32). Outputs with a single row or
      0-d are skipped (the authors' code would raise there).
    * Aggregation: plain sum over hooked calls; NaN/inf per-module values dropped (authors).
    * Data: "one data" - by default only ``x[:1]`` is forwarded (the NB201 correlation run uses
      batch size 1, a real CIFAR image at 32x32), in train mode (BN over the H*W positions of
      the single sample). ``whole_batch=True`` forwards all of ``x`` and still reads sample 0,
      which is what the hook does when a larger batch is fed (BN statistics then differ).
    * No labels, no backward, no log, no epsilon.
    * ``module_types`` (not in the paper/code): hook only modules of these types, e.g.
      ``(nn.Conv2d, nn.Linear)``, for comparing with an implementation that reads layer
      outputs only. ``None`` (default) = every module, as the authors.
    """
    return _meco_core(model, x, None, 0, whole_batch, module_types)


def meco_opt(model: nn.Module, x: torch.Tensor, *, k: int = 8, seed: int = 0, whole_batch: bool = False,
             module_types: tuple | None = None) -> float:
    """MeCo_opt = sum over every module m of (C_m / 8) * lambda_min( corr of 8 random channels of f_m(x_0) ).

    Source: Jiang et al., NeurIPS 2023, "MeCo_opt" (named in the abstract as an optimisation of
    MeCo; its definition here is from the code, section not verified) (random channel sampling to cut the
    eigen-decomposition cost, rescaled by C/n); code read: HamsterMimi/MeCo
    ``correlation/NAS_Bench_201.py`` branch ``measure == 'meco_opt'``:
    ``idxs = random.sample(range(n), 8); ... result = min(real(eig(corr))) * n / 8``.

    Choices: everything as :func:`meco`, plus
    * k = 8 channels drawn **without replacement**, independently for every hooked call; the
      authors use Python's unseeded ``random.sample``; here ``torch.randperm`` on a generator
      seeded with ``seed`` (so the value is reproducible, and only comparable to another
      implementation that draws the same channels).
    * Scale: multiplied by ``n / k`` with n = rows (channels) of that module's map.
    * Fewer than k rows (authors: ``random.sample`` raises): all rows are used, scale 1.
    """
    return _meco_core(model, x, k, seed, whole_batch, module_types)
