"""The Fisher information pass (VKDNW, Tybl & Neumann, CVPR 2025): the Fisher information matrix of the
network's predictive distribution over a sample of its weights.

The sample is the first entry of each of the first ``FISHER_PARAMS`` trainable parameter tensors in
registration order (``named_parameters``: weights, biases, normalisation scales and shifts), as the
authors' code samples them. For probe image n, ``J_n`` is the classes x P Jacobian of its logits with
respect to the sampled entries (eval mode: each image runs alone through normalisation's running
statistics) and ``L_n`` the lower-triangular factor of ``diag(p) - p p^T``, ``p`` the softmax smoothed
towards uniform, ``(1 - a) softmax + a / classes`` with ``a = FISHER_SMOOTHING`` (Tanabe & Sagae's
closed form, exact). The matrix is ``F = 1/N sum_n (L_n J_n)^T (L_n J_n)``, as the authors' code forms
it (the categorical Fisher ``J^T (diag(p) - p p^T) J`` would whiten with ``L_n^T``).

J is read off one forward of the batch with *taps*: each module owning a sampled tensor adds
``s_k[n] * t_k`` to its output, ``t_k`` its output's derivative along the sampled entry (forward-mode AD)
and ``s_k`` zeros, one per image, so one backward pass per class gives every image's row. That needs
every sampled tensor in a Conv/Linear/Embedding/normalisation layer (batch-first outputs); other
networks take one backward pass per class and image.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call, jvp

from evoproxy.lang.stats import FISHER_PARAMS
from evoproxy.probe.base import fresh_copy, register_pass
from evoproxy.probe.layers import logits_of

FISHER_SMOOTHING = 0.05
"""Weight of the uniform distribution mixed into the softmax (the authors' alpha), so that every
class has probability >= a / classes and the factor of the covariance is finite."""


def sampled_parameters(net: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """The parameter tensors whose first entry is sampled: the first ``FISHER_PARAMS`` trainable ones."""
    named = [(n, p) for n, p in net.named_parameters() if p.requires_grad][:FISHER_PARAMS]
    if not named:
        raise ValueError("the network has no trainable parameter: its Fisher information is empty")
    return named


BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)
FAST_OWNERS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear, nn.Embedding, nn.LayerNorm, nn.GroupNorm, *BATCH_NORMS)
"""Modules whose outputs are batch-first: when every sampled tensor belongs to one, the Jacobian is
taken with taps (one backward pass per class); otherwise one image at a time."""


class _NotFast(Exception):
    """The tapped Jacobian does not apply to this network (the looped one does)."""


class _EntryTaps:
    """Forward hooks adding ``s_k[n] * t_k`` to the output of the module owning sampled tensor k, with
    ``t_k`` = d output / d (its first entry) by forward-mode AD and ``s_k`` zeros, one per image: the
    gradient of class c's summed logits with respect to ``s_k`` is then column k of every image's J."""

    def __init__(self, net: nn.Module, named: list, x: torch.Tensor):
        modules = dict(net.named_modules())
        if any(isinstance(m, BATCH_NORMS) and not m.track_running_stats for m in modules.values()):
            raise _NotFast   # normalised with batch statistics even in eval mode: images would interact
        owners = {}
        for m_name, m in net.named_modules():
            for attr, p in m.named_parameters(recurse=False, remove_duplicate=False):
                owners.setdefault(id(p), []).append((m_name, attr))
        # float64 taps: their gradients (J) keep float64's range whatever the network computes in
        self.taps = [torch.zeros(x.shape[0], dtype=torch.float64, device=x.device, requires_grad=True) for _ in named]
        self.used, self.busy, self.handles = set(), False, []
        for k, (_, p) in enumerate(named):
            if len(owners.get(id(p), ())) != 1 or not isinstance(modules[owners[id(p)][0][0]], FAST_OWNERS):
                self.remove()
                raise _NotFast
            m_name, attr = owners[id(p)][0]
            tap = lambda m, args, kwargs, out, k=k, attr=attr: self._tap(k, attr, m, args, kwargs, out)  # noqa: E731
            self.handles.append(modules[m_name].register_forward_hook(tap, with_kwargs=True))

    def _tap(self, k, attr, module, args, kwargs, out):
        if self.busy:       # the forward-mode re-run below
            return None
        if not isinstance(out, torch.Tensor) or out.dim() == 0 or out.shape[0] != self.taps[k].shape[0]:
            raise _NotFast
        w = getattr(module, attr).detach()
        direction = torch.zeros_like(w)
        direction.view(-1)[0] = 1.0
        args, kwargs = _detached(args), _detached(kwargs)   # first order at s = 0: no path through the taps
        self.busy = True
        try:
            _, tangent = jvp(lambda v: functional_call(module, {attr: v}, args, kwargs), (w,), (direction,))
        finally:
            self.busy = False
        self.used.add(k)
        return out + self.taps[k].reshape(-1, *[1] * (out.dim() - 1)).to(out.dtype) * tangent

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def _detached(values):
    if isinstance(values, dict):
        return {k: v.detach() if isinstance(v, torch.Tensor) else v for k, v in values.items()}
    return tuple(v.detach() if isinstance(v, torch.Tensor) else v for v in values)


def _hooked_jacobian(net: nn.Module, x: torch.Tensor, named: list) -> tuple[torch.Tensor, torch.Tensor]:
    """J ``[N, classes, P]`` and the logits, by one forward with taps and one backward pass per class
    (eval mode, running statistics: each image's logits depend on its own taps only)."""
    for p in net.parameters():
        p.requires_grad_(False)
    taps = _EntryTaps(net, named, x)
    try:
        z = logits_of(net(x))
    finally:
        taps.remove()
    if len(taps.used) != len(named):
        raise _NotFast     # a sampled tensor used outside its module's forward
    cols = []
    for c in range(z.shape[1]):
        grads = torch.autograd.grad(z[:, c].sum(), taps.taps, retain_graph=True, allow_unused=True)
        cols.append(torch.stack([g if g is not None else torch.zeros_like(s) for g, s in zip(grads, taps.taps)], 1))
    return torch.stack(cols, 1), z.detach()


def _looped_jacobian(net: nn.Module, x: torch.Tensor, named: list) -> tuple[torch.Tensor, torch.Tensor]:
    """J and the logits for any network: each image forwarded alone, one backward pass per class."""
    params = [p.requires_grad_(True) for _, p in named]
    rows, logits = [], []
    for image in x.split(1):
        z = logits_of(net(image))[0]
        logits.append(z.detach())
        per_class = []
        for c in range(z.shape[0]):
            grads = torch.autograd.grad(z[c], params, retain_graph=True, allow_unused=True)
            per_class.append(torch.stack([g.reshape(-1)[0] if g is not None else z.new_zeros(()) for g in grads]))
        rows.append(torch.stack(per_class))
    return torch.stack(rows), torch.stack(logits)


def covariance_factor(p: torch.Tensor) -> torch.Tensor:
    """Lower-triangular ``L`` with ``L L^T = diag(p) - p p^T`` for each row of ``p`` (Tanabe & Sagae
    1992): ``L = M diag(d)``, ``M[i, j] = -p_i / q_j`` below the diagonal, 1 on it, ``q_j`` the mass of
    the classes after j and ``d_j = sqrt(p_j q_j / q_{j-1})`` (the last column is zero: rank classes - 1)."""
    after = p.flip(1).cumsum(1).flip(1)                       # mass of classes j..C-1
    q = torch.cat([after[:, 1:], torch.zeros_like(p[:, :1])], 1)        # mass after j
    q_prev = torch.cat([torch.ones_like(p[:, :1]), q[:, :-1]], 1)
    d = torch.sqrt(p * q / q_prev)
    c = p.shape[1]
    below = torch.ones(c, c, dtype=torch.bool, device=p.device).tril(-1)
    ratio = -p[:, :, None] / torch.where(q > 0, q, 1.0)[:, None, :]
    m = torch.where(below, ratio, torch.eye(c, dtype=p.dtype, device=p.device))
    return m * d[:, None, :]


def _jacobian(net: nn.Module, x: torch.Tensor, named: list) -> tuple[torch.Tensor, torch.Tensor]:
    try:
        return _hooked_jacobian(net, x, named)
    except _NotFast:
        return _looped_jacobian(net, x, named)


@register_pass("fisher")
def _fisher_pass(model, x, y, names):
    """The sampled Fisher information matrix ``fisher`` (P x P, float64; one layer). A network whose
    logits or Jacobian leave float32's range (a deep ResNet at initialisation in eval mode) runs again
    in float64."""
    net = fresh_copy(model, train=False)
    named = sampled_parameters(net)
    jac, z = _jacobian(net, x, named)
    if x.is_floating_point() and not (torch.isfinite(jac).all() and torch.isfinite(z).all()):
        jac, z = _jacobian(net.double(), x.double(), named)   # the same parameter objects, converted
    p = (1 - FISHER_SMOOTHING) * torch.softmax(z.double(), 1) + FISHER_SMOOTHING / z.shape[1]
    psi = covariance_factor(p) @ jac.double()
    return {"fisher": (torch.einsum("ncp,ncq->pq", psi, psi) / x.shape[0],)}
