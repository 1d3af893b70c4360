"""Teacher-student ops: channel-free transforms and per-layer distances (registered into :mod:`evoproxy.lang.ops`).

A distance compares two equal-shaped tensors of one layer, each sample (dim 0) flattened to a
row, and raises ValueError when the shapes differ (the evaluator scores that NaN). The
transforms ``gram_batch`` and ``attention_map`` drop the channel count, so a CNN teacher's and
a ViT student's features ("T", "S") land in one domain and can be compared.
"""
from __future__ import annotations

import torch

from evoproxy.lang.ops import Op, register_op, rows, safe_div, safe_invert

KD_TEMPERATURE = 4.0


def _unitrows(r: torch.Tensor) -> torch.Tensor:
    """Each row scaled to L2 norm 1 (a zero row stays zero)."""
    return r * safe_invert(torch.linalg.vector_norm(r, dim=-1, keepdim=True))


def _channels(x: torch.Tensor) -> torch.Tensor:
    """``[B, C, rest]`` view: [B, C] is [B, C, 1], a vector [C] is one sample [1, C, 1]."""
    return x.reshape(x.shape[0], x.shape[1], -1) if x.dim() > 1 else x.reshape(1, -1, 1)


def _gram_batch(x: torch.Tensor) -> torch.Tensor:
    r = _unitrows(rows(x))
    return r @ r.T


def _gram_channel(x: torch.Tensor) -> torch.Tensor:
    v = _unitrows(_channels(x))
    return torch.einsum("bcx,bdx->cd", v, v) / v.shape[0]


def _attention_map(x: torch.Tensor) -> torch.Tensor:
    return _unitrows(_channels(x).square().mean(dim=1))


def _pair(name: str, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Both tensors as float64 rows; ValueError when their shapes differ."""
    if a.shape != b.shape:
        raise ValueError(f"{name}: shapes differ ({tuple(a.shape)} vs {tuple(b.shape)})")
    return rows(a).double(), rows(b).double()


def _mse(a, b):
    a, b = _pair("mse", a, b)
    return (a - b).square().mean()


def _l1dist(a, b):
    a, b = _pair("l1dist", a, b)
    return (a - b).abs().mean()


def _kl_t(a, b):
    a, b = _pair("kl_t", a, b)
    t = KD_TEMPERATURE
    log_p, log_q = torch.log_softmax(a / t, dim=1), torch.log_softmax(b / t, dim=1)
    return (log_p.exp() * (log_p - log_q)).sum(dim=1).mean() * t * t


def _cosine(a, b):
    a, b = _pair("cosine", a, b)
    return (_unitrows(a) * _unitrows(b)).sum(dim=1).mean()


def _pearson(a, b):
    a, b = (v.reshape(-1) for v in _pair("pearson", a, b))
    if a.max() == a.min() or b.max() == b.min():  # a constant has no correlation (not ~±1 noise)
        return a.new_zeros(())
    a, b = a - a.mean(), b - b.mean()
    r = safe_div((a * b).sum(), torch.sqrt(a.square().sum() * b.square().sum()))
    return r.clamp(-1.0, 1.0)


for _name, _fn, _doc, _latex, _cf in [
    ("gram_batch", _gram_batch, "sample Gram rows(x) rows(x)^T of L2-normalised rows, [B, B]",
     r"G_{{B}}\left({0}\right)", True),
    ("gram_channel", _gram_channel, "channel Gram of L2-normalised channel rows, batch mean, [C, C]",
     r"G_{{C}}\left({0}\right)", False),
    ("attention_map", _attention_map, "mean over channels of x^2 per position, rows L2-normalised, "
     "[B, h*w] (Zagoruyko & Komodakis)", r"\operatorname{{AT}}\left({0}\right)", True),
]:
    register_op(Op(_name, "reshape", _fn, _doc, _latex, channel_free=_cf, teacher=True))

for _name, _fn, _doc, _latex, _comm in [
    ("mse", _mse, "mean of (a - b)^2", r"\operatorname{{MSE}}\left({0}, {1}\right)", True),
    ("l1dist", _l1dist, "mean of |a - b|", r"\operatorname{{mean}}\left|{0} - {1}\right|", True),
    ("kl_t", _kl_t, "T^2 KL(softmax(a/T) || softmax(b/T)) per row, batch mean, T = 4",
     r"\mathrm{{KL}}_{{T}}\left({0} \,\|\, {1}\right)", False),
    ("cosine", _cosine, "batch mean of the cosine similarity of sample rows (0 for a zero row)",
     r"\cos\left({0}, {1}\right)", True),
    ("pearson", _pearson, "Pearson correlation of all elements (0 if either is constant)",
     r"\rho\left({0}, {1}\right)", True),
]:
    register_op(Op(_name, "distance", _fn, _doc, _latex, commutative=_comm, teacher=True))

register_op(Op("layer_last", "aggregate", lambda v: v.reshape(-1)[-1].clone(),
               "value of the last layer (e.g. the deepest teacher-student pair)", r"{0}_{{L}}", teacher=True))
