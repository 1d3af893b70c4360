"""The classic zero-cost proxies, each registered as a program in the proxy language.

Proxies that are not per-layer formulas (NASWOT, Jacov, Zen, params, FLOPs) are whole-network
statistics, so their program is a single leaf. All are "higher is better".
"""
from __future__ import annotations

from dataclasses import dataclass

from .program import Program, check_proxy, parse
from .registry import Registry


@dataclass(frozen=True)
class ClassicProxy:
    name: str
    formula: str
    description: str
    source: str
    lines: tuple[str, ...] = ("nas",)
    """Which benchmark families ``--proxy all`` scores it on: "nas" (untrained networks), "mq"
    (bit configurations of a trained network)."""

    @property
    def program(self) -> Program:
        return check_proxy(parse(self.formula))


PROXIES: Registry[ClassicProxy] = Registry("proxy")

for _p in [
    ClassicProxy("grad_norm", "layer_sum(l2(grad))", "sum of per-layer gradient norms",
                 "Abdelfattah et al. 2021", ("nas", "mq")),
    ClassicProxy("snip", "layer_sum(sum(abs(mul(grad, weight))))", "connection sensitivity |g * W|",
                 "Lee et al. 2019", ("nas", "mq")),
    ClassicProxy("grasp", "negate(layer_sum(sum(mul(weight, hess_grad))))",
                 "-W * Hg, gradient-signal preservation", "Wang et al. 2020"),
    ClassicProxy("fisher",
                 "layer_sum(mul(fan_in, sum(mul(0.5, batch_mean(square(spatial_sum(mul(act, act_grad))))))))",
                 "Fisher information of layer outputs per channel, spread over the weights feeding "
                 "each channel as NASLib does", "Turner et al. 2020"),
    ClassicProxy("synflow", "layer_sum(sum(abs(mul(virtual_grad, weight))))",
                 "synaptic flow on the |W| network with an all-ones input", "Tanaka et al. 2020", ("nas", "mq")),
    ClassicProxy("jacov", "jacov", "input-Jacobian correlation score", "Mellor et al. 2021 (v1)"),
    ClassicProxy("nwot", "nwot", "NASWOT ReLU-code kernel log-determinant", "Mellor et al. 2021"),
    ClassicProxy("zen", "zen", "Zen-score", "Lin et al. 2021"),
    ClassicProxy("l2_norm", "layer_sum(l2(weight))", "sum of per-layer weight norms",
                 "NAS-Bench-Suite-Zero"),
    ClassicProxy("plain", "layer_sum(sum(mul(grad, weight)))", "sum of g * W",
                 "NAS-Bench-Suite-Zero"),
    ClassicProxy("params", "params", "trainable parameter count", "baseline"),
    ClassicProxy("flops", "flops", "multiply-accumulates per image", "baseline"),
    ClassicProxy("tvt_capability", "sqrt(layer_sum(sum(square(weight))))",
                 "L2 norm of all student weights (TVT's capability term)", "TVT / Auto-Prox"),
    # Mixed-precision quantization: rank bit configurations of one trained network.
    ClassicProxy("bparams", "layer_sum(mul(bits, numel))", "bit-weighted parameter count (model size)",
                 "EMQ baseline", ("mq",)),
    ClassicProxy("bops", "layer_sum(mul(mul(bits, act_bits), macs))", "bit operations per image",
                 "EMQ baseline", ("mq",)),
    ClassicProxy("bsnip", "layer_sum(mul(bits, sum(abs(mul(grad, weight)))))",
                 "bit-weighted SNIP", "EMQ baseline", ("mq",)),
    ClassicProxy("bsynflow", "layer_sum(mul(bits, sum(abs(mul(virtual_grad, weight)))))",
                 "bit-weighted synflow", "EMQ baseline", ("mq",)),
    ClassicProxy("hawq_v1", "negate(layer_sum(mul(hess_eig, square(l2(qerror)))))",
                 "-sum top Hessian eigenvalue x ||W - Q(W)||^2", "Dong et al. 2019 (HAWQ)", ("mq",)),
    ClassicProxy("hawq_v2", "negate(layer_sum(mul(div(hess_trace, numel), square(l2(qerror)))))",
                 "-sum Tr(H)/n x ||W - Q(W)||^2", "Dong et al. 2020 (HAWQ-v2)", ("mq",)),
    ClassicProxy("ompq", "layer_mean(mul(orthogonality, bits))",
                 "OMPQ layer orthogonality importance x bits (EMQ's score form)", "Ma et al. 2023", ("mq",)),
    ClassicProxy("qe_score", "layer_sum(add(log(sqrt(fan_in)), log(quant_std)))",
                 "quantization-entropy score: log sqrt(fan-in) + log std after quantization, per layer",
                 "Sun et al. 2022 (QE)", ("mq",)),
]:
    PROXIES.add(_p.name, _p)


def proxies_for(line: str) -> list[str]:
    """Names of the classic proxies that ``--proxy all`` scores on a benchmark of ``line``."""
    return [p.name for p in PROXIES.values() if line in p.lines]
