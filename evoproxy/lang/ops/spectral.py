"""Ops for the structure of the state-of-the-art proxies: activation patterns, correlation
kernels, spectra and their deciles, and reductions over a sample axis (ZiCo, MeCo, NASWOT, SWAP,
TE-NAS, AZ-NAS, VKDNW).

Spectral reductions read a layer's tensor as the matrix ``rows(x)`` (dim 0 by the rest) and use
its singular values, which are the eigenvalues when the matrix is symmetric positive
semi-definite (a ``gram`` or ``corr`` kernel, NASWOT's K, an NTK): defined for every shape, so
every well-typed program computes. They are not in the default op set of a search (name them in
the config's ``ops``), so seeded runs of the default set draw as before they existed.
"""
from __future__ import annotations

import torch

from evoproxy.lang.ops import Op, register_op, rows, safe_div, safe_log

EPS = 1e-12


def _spectrum(x: torch.Tensor) -> torch.Tensor:
    """Singular values of rows(x) in float64, largest first; all NaN (the screen's to reject) when
    rows(x) holds a NaN or inf, which LAPACK would only complain about on stderr, or when the SVD
    does not converge (finite values spanning hundreds of orders of magnitude, as exp(exp(.)) gives)."""
    m = rows(x).double()
    nan = m.new_full((min(m.shape),), float("nan"))
    if not torch.isfinite(m).all():
        return nan
    try:
        return torch.linalg.svdvals(m)
    except torch.linalg.LinAlgError:
        return nan


def _eig_min(x: torch.Tensor) -> torch.Tensor:
    s = _spectrum(x)
    return s[-1] if s.numel() else s.new_zeros(())


def _eig_max(x: torch.Tensor) -> torch.Tensor:
    s = _spectrum(x)
    return s[0] if s.numel() else s.new_zeros(())


def _logdet(x: torch.Tensor) -> torch.Tensor:
    return safe_log(_spectrum(x)).sum()


def _eff_rank(x: torch.Tensor) -> torch.Tensor:
    """exp(entropy of the normalised spectrum) (Roy & Vetterli 2007); 0 for a zero matrix."""
    s = _spectrum(x)
    p = safe_div(s, s.sum().expand_as(s))
    return torch.exp(-(p * safe_log(p)).sum()) * (s.sum() > 0)


def _cond(x: torch.Tensor) -> torch.Tensor:
    s = _spectrum(x)
    return safe_div(s[0], s[-1]) if s.numel() else s.new_zeros(())


DECILES = torch.arange(1, 10, dtype=torch.float64) / 10


def _deciles(x: torch.Tensor) -> torch.Tensor:
    """The 9 deciles (10%, ..., 90%) of all values of a layer, float64, linearly interpolated between
    order statistics (numpy's and torch.quantile's default); zeros for an empty layer."""
    v = torch.sort(x.reshape(-1).double()).values
    if not v.numel():
        return v.new_zeros(len(DECILES))
    pos = DECILES * (v.numel() - 1)
    lo, hi = v[pos.floor().long()], v[pos.ceil().long()]
    return torch.where(lo == hi, lo, lo + (hi - lo) * (pos - pos.floor()))


def _corr(x: torch.Tensor) -> torch.Tensor:
    """Pearson correlation between the rows of rows(x); a constant row, whose correlation is
    undefined, correlates 0 with every row, itself included (``nan_to_num(corrcoef)``, as MeCo's
    authors do; a network with a constant Jacobian then gets a zero eigenvalue, Jacov's worst)."""
    r = rows(x).double()
    r = r - r.mean(dim=1, keepdim=True)
    unit = safe_div(r, r.norm(dim=1, keepdim=True).expand_as(r))
    return unit @ unit.T


def _cov(x: torch.Tensor) -> torch.Tensor:
    """Covariance between the rows of rows(x) over its columns (centred, divided by their number)."""
    r = rows(x).double()
    r = r - r.mean(dim=1, keepdim=True)
    return r @ r.T / max(r.shape[1], 1)


def _layer_diff(v: torch.Tensor) -> torch.Tensor:
    """Successive differences v[l] - v[l-1] (empty for a single layer)."""
    return v[1:] - v[:-1] if v.dim() == 1 else torch.zeros_like(v)


def _extreme(fn):
    def reduce(v: torch.Tensor) -> torch.Tensor:
        return fn(v) if v.numel() else v.new_zeros(())
    return reduce


def _channels(x: torch.Tensor) -> torch.Tensor:
    """dims 0 and 1 swapped: rows become channels (of every sample and position)."""
    return x.transpose(0, 1).contiguous() if x.dim() > 1 else x.clone()


def _neurons(x: torch.Tensor) -> torch.Tensor:
    """rows(x) transposed: one row per unit (channel x position), one column per sample."""
    return rows(x).T.contiguous()


def _first_sample(x: torch.Tensor) -> torch.Tensor:
    """The first sample only (dim 0 kept, of size 1): MeCo's one image."""
    return x[:1].clone()


def _step(x: torch.Tensor) -> torch.Tensor:
    return (x > 0).to(x.dtype if x.is_floating_point() else torch.float64)


def _pack_bits(r: torch.Tensor) -> torch.Tensor:
    """0/1 rows as int64 keys, 64 columns to a key (bijective: 52 + 12 bits, wrapping)."""
    def word(c: torch.Tensor) -> torch.Tensor:  # <= 52 bits: exact in a float64 matmul
        return (c.double() @ torch.pow(2.0, torch.arange(c.shape[1], dtype=torch.float64))).long()
    keys = [word(c[:, :52]) + (word(c[:, 52:]) << 52 if c.shape[1] > 52 else 0) for c in r.split(64, dim=1)]
    return torch.stack(keys, dim=1)


def _distinct_rows(x: torch.Tensor) -> torch.Tensor:
    """Number of distinct rows of rows(x) (SWAP's count of activation patterns)."""
    r = rows(x)
    if not r.numel():
        return torch.tensor(0.0, dtype=torch.float64)
    if not (bool((r * (1 - r) == 0).all()) and not r.isinf().any()):  # not binary codes
        return torch.tensor(float(torch.unique(r.double(), dim=0).shape[0]), dtype=torch.float64)
    r = _pack_bits(r)
    if r.shape[1] == 1:
        return torch.tensor(float(torch.unique(r).numel()), dtype=torch.float64)
    order = torch.arange(r.shape[0])
    for col in reversed(range(r.shape[1])):  # lexicographic row order by stable sorts
        order = order[torch.sort(r[order, col], stable=True).indices]
    ordered = r[order]
    return (1 + (ordered[1:] != ordered[:-1]).any(dim=1).sum()).double()


def _sample_std(x: torch.Tensor) -> torch.Tensor:
    return x.std(dim=0, unbiased=False) if x.dim() > 0 and x.shape[0] > 1 else torch.zeros_like(x[0])


def _sample_mean(x: torch.Tensor) -> torch.Tensor:
    return x.mean(dim=0)


for _op in [
    Op("step", "unary", _step, "1 where x > 0, else 0 (an activation pattern)", r"\mathbb{{1}}\left[{0} > 0\right]",
       default=False),
    Op("corr", "reshape", _corr, "Pearson correlation between the rows of each layer (rows(x) rows(x)^T normalised)",
       r"\operatorname{{corr}}\left({0}\right)", default=False),
    Op("cov", "reshape", _cov, "covariance between the rows of each layer over its columns",
       r"\operatorname{{cov}}\left({0}\right)", default=False),
    Op("layer_diff", "across", _layer_diff, "differences of successive layers' numbers (a new axis: one "
       "fewer entry)", r"\Delta_{{l}} {0}", default=False),
    Op("layer_min", "aggregate", _extreme(torch.min), "smallest over layers (0 if none)",
       r"\min_{{l}} {0}", default=False),
    Op("layer_max", "aggregate", _extreme(torch.max), "largest over layers (0 if none)",
       r"\max_{{l}} {0}", default=False),
    Op("channels", "reshape", _channels, "dims 0 and 1 swapped: rows become channels",
       r"{0}^{{\mathrm{{ch}}}}", default=False),
    Op("neurons", "reshape", _neurons, "rows(x) transposed: a row per unit, a column per sample",
       r"{0}^{{\top}}", default=False),
    Op("first_sample", "reshape", _first_sample, "the first sample of a batch-first tensor (dim 0 kept)",
       r"{0}_{{[1]}}", default=False),
    Op("eigvals", "reshape", _spectrum, "singular values of rows(x), largest first (a kernel's eigenvalues)",
       r"\lambda\left({0}\right)", default=False),
    Op("deciles", "reshape", _deciles, "the 9 deciles (10%, ..., 90%) of a layer's values, linearly "
       "interpolated (VKDNW's summary of a spectrum)", r"\operatorname{{dec}}\left({0}\right)", default=False),
    Op("eig_min", "reduce", _eig_min, "smallest singular value of rows(x) (smallest eigenvalue of a kernel)",
       r"\lambda_{{\min}}\left({0}\right)", default=False),
    Op("eig_max", "reduce", _eig_max, "largest singular value of rows(x) (largest eigenvalue of a kernel)",
       r"\lambda_{{\max}}\left({0}\right)", default=False),
    Op("logdet", "reduce", _logdet, "sum of log singular values > 0 (log|det| of a nonsingular kernel)",
       r"\log\left|{0}\right|", default=False),
    Op("eff_rank", "reduce", _eff_rank, "effective rank: exp(entropy of the normalised singular values)",
       r"\operatorname{{erank}}\left({0}\right)", default=False),
    Op("cond", "reduce", _cond, "condition number: largest / smallest singular value (0 if singular)",
       r"\kappa\left({0}\right)", default=False),
    Op("distinct_rows", "reduce", _distinct_rows, "number of distinct rows of rows(x)",
       r"\#\operatorname{{rows}}\left({0}\right)", default=False),
    Op("sample_mean", "samples", _sample_mean, "mean over the sample axis", r"\mathbb{{E}}_{{n}}\left[{0}\right]",
       default=False),
    Op("sample_std", "samples", _sample_std, "population std over the sample axis",
       r"\sigma_{{n}}\left({0}\right)", default=False),
    Op("layers_total", "stack", lambda ks: torch.stack([k.double() for k in ks]).sum(dim=0),
       "sum of the per-layer n x n batch kernels (one layer)", r"\textstyle\sum_{{l}} {0}", default=False),
    Op("layers_concat", "concat", lambda rs: torch.cat([rows(r) for r in rs]),
       "every layer's unit-by-sample rows stacked into one layer", r"\bigoplus_{{l}} {0}", default=False),
]:
    register_op(_op)
