"""Teacher-student statistics for distillation benchmarks: a ViT student probed beside a CNN teacher.

A distillation benchmark builds a :class:`DistillPair`; the ``kd`` pass then runs the frozen
teacher and the untrained student on the probe batch and returns, aligned once here:

* ``t_feat`` / ``s_feat``: the teacher's three stage outputs and the student's features at three
  matching depths (tokens reshaped to their spatial grid), each pair bilinearly resized to the
  larger of the two grids (TVT's alignment). Channel counts differ, so only channel-free
  transforms (attention map, batch Gram) make teacher and student comparable;
* ``t_logits`` / ``s_logits``: logits over the same classes;
* ``t_cls_grad`` / ``s_cls_grad``: cross-entropy gradient of the classifier weight (classes x
  channels; DisWOT's semantic input);
* ``s_attn``: the student's attention probabilities at the three feature depths.

The teacher's outputs depend only on the teacher and the batch, so they are computed once per
(teacher, batch) and reused for every student.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from evoproxy.probe.base import fresh_copy, batch_digest, register_pass

_MEMO: dict[tuple, dict] = {}
_MEMO_SIZE = 4


class _Shared:
    """Holds a network that deep copies share (the frozen teacher is never modified)."""

    def __init__(self, net: nn.Module) -> None:
        self.net = net

    def __deepcopy__(self, memo: dict) -> "_Shared":
        return self


class DistillPair(nn.Module):
    """A student network with its frozen teacher beside it (not a submodule: weight, grad and
    act statistics, params and FLOPs all describe the student alone)."""

    def __init__(self, student: nn.Module, teacher: nn.Module, teacher_key: str,
                 macs_m: float = float("nan")) -> None:
        super().__init__()
        self.student = student
        self._teacher = _Shared(teacher.eval())
        self.teacher_key = teacher_key
        self.macs_m = macs_m

    @property
    def teacher(self) -> nn.Module:
        return self._teacher.net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.student(x)

    def flops(self) -> float:
        """The student's multiply-accumulates per image in millions (attention matmuls included)."""
        return self.macs_m


def _classifier(net: nn.Module) -> nn.Linear:
    head = getattr(net, "head", None) or getattr(net, "fc", None)
    if not isinstance(head, nn.Linear):
        raise ValueError(f"{type(net).__name__} has no Linear classifier named head or fc")
    return head


def _run(net: nn.Module, x: torch.Tensor, y: torch.Tensor, keep_attn: bool, backward: bool = True) -> dict:
    """Features, logits and (with ``backward``) classifier-weight gradient of a private copy."""
    if keep_attn:
        net.keep_attn = True
    with torch.set_grad_enabled(backward):
        feats, logits = net.forward_features(x)
        if backward:
            F.cross_entropy(logits, y).backward()
    out = {"feat": [f.detach() for f in feats], "logits": logits.detach()}
    if backward:
        out["cls_grad"] = _classifier(net).weight.grad.detach().clone()
    if keep_attn:
        out["attn"] = [a.detach() for a in net.attention_maps()]
    return out


def _teacher_outputs(pair: DistillPair, x: torch.Tensor, y: torch.Tensor) -> dict:
    key = (pair.teacher_key, batch_digest(x, y), str(x.device))
    if key not in _MEMO:
        if len(_MEMO) >= _MEMO_SIZE:
            _MEMO.pop(next(iter(_MEMO)))
        net = fresh_copy(pair.teacher, train=False).requires_grad_(True)  # a copy: for its classifier grad
        _MEMO[key] = _run(net, x, y, keep_attn=False)
    return _MEMO[key]


def align(t: torch.Tensor, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Resize two ``[B, C, h, w]`` maps to the larger grid (bilinear; copies, never views)."""
    size = max(t.shape[-2:], s.shape[-2:], key=lambda hw: hw[0] * hw[1])
    resize = lambda m: m.clone() if tuple(m.shape[-2:]) == tuple(size) else F.interpolate(
        m, size=tuple(size), mode="bilinear", align_corners=False)
    return resize(t), resize(s)


@register_pass("kd")
def _kd_pass(model, x, y, names):
    if not isinstance(model, DistillPair):
        raise ValueError("teacher statistics need a distillation benchmark (a student with a teacher)")
    teacher = _teacher_outputs(model, x, y)
    student = _run(fresh_copy(model.student), x, y, keep_attn="s_attn" in names, backward="s_cls_grad" in names)
    if len(teacher["feat"]) != len(student["feat"]):
        raise ValueError("teacher and student expose different numbers of feature stages")
    pairs = [align(t, s) for t, s in zip(teacher["feat"], student["feat"])]
    table = {"t_feat": lambda: tuple(t for t, _ in pairs), "s_feat": lambda: tuple(s for _, s in pairs),
             "t_logits": lambda: (teacher["logits"].clone(),), "s_logits": lambda: (student["logits"],),
             "t_cls_grad": lambda: (teacher["cls_grad"].clone(),),
             "s_cls_grad": lambda: (student["cls_grad"],),
             "s_attn": lambda: tuple(student.get("attn", ()))}
    return {n: table[n]() for n in names}
