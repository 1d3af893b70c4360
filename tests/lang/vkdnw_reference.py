"""VKDNW (Tybl & Neumann, "Training-free Neural Architecture Search through Variance of Knowledge of
Deep Network Weights", CVPR 2025) written directly in torch from the paper and the authors' code
(github.com/ondratybl/VKDNW, NB201/ZeroShotProxy/compute_vkdnw_score.py and the notebook that builds
Table 1), with nothing from evoproxy: checks of the ``vkdnw`` programs, not a library.

* theta~: the first entry of each of the first 128 trainable parameter tensors (``named_parameters``).
* Per image (eval mode), J_n = d logits / d theta~ (classes x P), one backward pass per class here.
* p~ = 0.95 softmax + 0.05 / C; L_n L_n^T = diag(p~) - p~ p~^T (a Cholesky factor, its last column 0).
* F = 1/N sum_n (L_n J_n)^T (L_n J_n)  (the authors' code: L J, not L^T J).
* lambda: the eigenvalues of F (singular values); q: their 9 deciles (10%..90%, linear);
  t = q / (|q|_1 + 1e-10); VKDNW = -sum t log(t + 1e-10).
* VKDNW_single orders networks by (number of trainable layers, VKDNW); VKDNW_agg sums the log ranks of
  VKDNW_single, AZ-NAS's expressivity and trainability, FLOPs and Jacov.
"""
from __future__ import annotations

import copy
from typing import Optional

import numpy as np
import torch
from scipy.stats import rankdata
from torch import nn

SAMPLED_TENSORS = 128
ALPHA = 0.05


def sampled_tensors(net: nn.Module, count: int = SAMPLED_TENSORS) -> list[torch.Tensor]:
    return [p for p in net.parameters() if p.requires_grad][:count]


def logit_jacobian(net: nn.Module, x: torch.Tensor, params: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """[N, C, P]: d z_c(x_n) / d (first entry of params[k]), one image and one class at a time; and the
    logits z(x_n) of each image forwarded alone."""
    rows, logits = [], []
    for n in range(x.shape[0]):
        z = net(x[n:n + 1])[0]
        logits.append(z.detach())
        per_class = []
        for c in range(z.shape[0]):
            grads = torch.autograd.grad(z[c], params, retain_graph=True, allow_unused=True)
            per_class.append(torch.stack([g.reshape(-1)[0] if g is not None else torch.zeros(()) for g in grads]))
        rows.append(torch.stack(per_class))
    return torch.stack(rows), torch.stack(logits)


def covariance_cholesky(p: torch.Tensor) -> torch.Tensor:
    """Lower-triangular L with L L^T = diag(p) - p p^T: Cholesky of the leading (C-1) x (C-1) block
    (positive definite), then the last row by a triangular solve; the last diagonal entry is 0, the
    matrix having rank C - 1 (its rows sum to 0)."""
    cov = torch.diag(p) - torch.outer(p, p)
    c = p.shape[0]
    top = torch.linalg.cholesky(cov[:c - 1, :c - 1])
    last = torch.linalg.solve_triangular(top, cov[:c - 1, c - 1:], upper=False).reshape(-1)
    factor = torch.zeros(c, c, dtype=p.dtype)
    factor[:c - 1, :c - 1] = top
    factor[c - 1, :c - 1] = last
    return factor


def fisher_matrix(model: nn.Module, x: torch.Tensor, count: int = SAMPLED_TENSORS) -> torch.Tensor:
    net = copy.deepcopy(model).eval()
    params = sampled_tensors(net, count)
    jac, logits = logit_jacobian(net, x, params)
    probs = torch.softmax(logits.double(), dim=1) * (1 - ALPHA) + ALPHA / jac.shape[1]
    fisher = torch.zeros(jac.shape[2], jac.shape[2], dtype=torch.float64)
    for n in range(x.shape[0]):
        psi = covariance_cholesky(probs[n]) @ jac[n].double()
        fisher += psi.T @ psi
    return fisher / x.shape[0]


def vkdnw_entropy(model: nn.Module, x: torch.Tensor, count: int = SAMPLED_TENSORS) -> float:
    lambdas = torch.linalg.eigvalsh(fisher_matrix(model, x, count)).abs()   # = singular values of F
    q = torch.quantile(lambdas, torch.arange(1, 10, dtype=torch.float64) / 10)
    t = q / (q.abs().sum() + 1e-10)
    return float(-(t * torch.log(t + 1e-10)).sum())


def parameter_tensors(model: nn.Module) -> int:
    """The authors' aleph: the number of parameter tensors (``len(named_parameters())``)."""
    return len(list(model.parameters()))


def trainable_layers(model: nn.Module) -> int:
    """The number of Conv2d / Linear layers."""
    return sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in model.modules())


def vkdnw_single(model: nn.Module, x: torch.Tensor, entropy: Optional[float] = None) -> float:
    """(trainable layers, VKDNW) in lexicographic order as one number: VKDNW < log 9 < 3 (``entropy``:
    the network's VKDNW when already computed)."""
    return 3.0 * trainable_layers(model) + (vkdnw_entropy(model, x) if entropy is None else entropy)


def single_order(alephs: list[int], entropies: list[float]) -> np.ndarray:
    """The authors' VKDNW_single: the dense rank of the (aleph, VKDNW) pairs."""
    pairs = sorted(set(zip(alephs, entropies)))
    return np.array([pairs.index(p) + 1 for p in zip(alephs, entropies)])


def vkdnw_agg(single, expressivity, trainability, flops, jacov) -> np.ndarray:
    """Sum over the five scores of log(average rank), as pandas' ``rank().apply(np.log)``."""
    return sum(np.log(rankdata(np.asarray(s, dtype=float))) for s in (single, expressivity, trainability,
                                                                       flops, jacov))
