"""The statistic registry: the leaves of proxy programs.

A statistic is computed by a named *pass* of the probe (:mod:`evoproxy.probe.base`); statistics
that share a pass are computed together, once per network and batch. Per-layer statistics
all follow one forward layer order (the order Conv2d/Linear layers run), so ``grad[l]``
always belongs to ``weight[l]``.
"""
from __future__ import annotations

from dataclasses import dataclass

from evoproxy.registry import Registry
from evoproxy.lang.types import LAYER_T, SCALAR_T, VType, tensor

W, A = tensor("W"), tensor("A")
SPLITS = 2
"""Parts of the probe batch ``grad_split`` differentiates separately (ZiCo's default)."""
FISHER_PARAMS = 128
"""Parameter tensors whose first entry ``fisher`` samples: the first this many (VKDNW's default)."""


@dataclass(frozen=True)
class Stat:
    name: str
    vtype: VType
    pass_name: str
    description: str
    latex: str
    cost: str = ""
    """What makes it costly beyond the probe's one forward and backward (empty: nothing), e.g.
    "one backward pass per probe image"; shown by ``evoproxy list stats``."""
    version: int = 1
    """Raised when the statistic's implementation changes what it computes: scores kept in the score cache
    (:mod:`evoproxy.scoring.scorecache`) that read it are then computed again."""


STATS: Registry[Stat] = Registry("statistic")


def register_stat(stat: Stat) -> Stat:
    return STATS.add(stat.name, stat)


for _s in [
    Stat("weight", W, "train", "layer weights of the untrained network", r"W"),
    Stat("grad", W, "train", "d cross-entropy / d weight on the labelled probe batch",
         r"\nabla_{W}\mathcal{L}"),
    Stat("act", A, "train", "layer outputs on the probe batch", r"A"),
    Stat("act_grad", A, "train", "d cross-entropy / d layer output", r"\nabla_{A}\mathcal{L}"),
    Stat("fan_in", LAYER_T, "train", "inputs feeding one output unit of each layer (C_in/groups x kernel)",
         r"\mathrm{fan}_{\mathrm{in}}"),
    Stat("virtual_grad", W, "synflow",
         "d sum(logits) / d weight of the |weights| network, float64, on an all-ones input",
         r"\nabla_{|W|}R"),
    Stat("virtual_grad_scale", SCALAR_T, "synflow",
         "log of the factor virtual_grad is stored divided by: 0 unless the network is deep enough for "
         "synflow to leave float64's range (then exact rescaling at the network's cut points)", r"s_{R}"),
    Stat("hess_grad", W, "grasp", "Hessian-gradient product H g of the cross-entropy (GraSP)",
         r"H g"),
    Stat("numel", LAYER_T, "train", "number of weights of each layer", r"n"),
    Stat("macs", LAYER_T, "train", "multiply-accumulates of each layer for one probe image", r"\mathrm{MAC}"),
    Stat("bits", LAYER_T, "quant", "weight bit width of each layer (32 for a float network)", r"b"),
    Stat("act_bits", LAYER_T, "quant", "bit width of each layer's input activations (32: float)",
         r"b_{A}"),
    Stat("qweight", W, "quant", "the quantized weights Q(W) the network computes with (W when float)",
         r"Q(W)"),
    Stat("qerror", W, "quant", "quantization error W - Q(W) (zero for a float network)", r"\Delta W"),
    Stat("quant_std", LAYER_T, "quant", "std of a unit Gaussian after b_W-bit times after b_A-bit "
         "quantization (QE-score's table; 1 for float)", r"\sigma_{b}"),
    Stat("hess_trace", LAYER_T, "hessian", "Hutchinson estimate of each layer's Hessian trace of "
         "the cross-entropy at the float weights", r"\operatorname{Tr}H"),
    Stat("hess_eig", LAYER_T, "hess_eig", "top eigenvalue of each layer's Hessian block at the float "
         "weights (power iteration)", r"\lambda_{\max}H"),
    Stat("orthogonality", LAYER_T, "ompq", "OMPQ layer importance exp(-sum_j CKA(K_l, K_j)) over the "
         "linear kernels of layer outputs", r"\theta"),
    Stat("t_feat", tensor("T"), "kd", "teacher stage outputs on the probe batch, each resized with "
         "its student partner to the larger grid", r"F_{T}"),
    Stat("s_feat", tensor("S"), "kd", "student features at three depths (tokens as maps), aligned "
         "with the teacher's stages", r"F_{S}"),
    Stat("t_logits", tensor("Z"), "kd", "teacher logits on the probe batch", r"z_{T}"),
    Stat("s_logits", tensor("Z"), "kd", "student logits on the probe batch", r"z_{S}"),
    Stat("t_cls_grad", tensor("TK"), "kd", "cross-entropy gradient of the teacher's classifier "
         "weight (classes x channels)", r"\nabla_{W^{fc}_{T}}\mathcal{L}"),
    Stat("s_cls_grad", tensor("SK"), "kd", "cross-entropy gradient of the student's classifier "
         "weight (classes x channels)", r"\nabla_{W^{fc}_{S}}\mathcal{L}"),
    Stat("s_attn", tensor("attn"), "kd", "student attention probabilities at the three feature depths",
         r"\mathcal{A}_{S}"),
    Stat("params", SCALAR_T, "params", "number of trainable parameters", r"\#\theta"),
    Stat("flops", SCALAR_T, "flops", "multiply-accumulates of one probe image (measured layers), millions",
         r"\mathrm{FLOPs}"),
    Stat("nwot", SCALAR_T, "nwot",
         "log-determinant of the ReLU binary-code kernel over the batch (NASWOT)", r"\mathrm{NWOT}"),
    Stat("jacov", SCALAR_T, "jacov", "score of the input-Jacobian correlation spectrum",
         r"\mathrm{Jacov}"),
    Stat("zen", SCALAR_T, "zen", "Zen-score: log expected feature-map change under input noise "
         "plus BN scale terms", r"\mathrm{Zen}"),
    # per-sample / per-split statistics and ReLU-level features (ZiCo, NASWOT, SWAP, Jacov)
    Stat("grad_split", tensor("W|n"), "split", "cross-entropy gradient of each layer weight on each of "
         f"{SPLITS} equal parts of the probe batch, stacked on a leading axis (ZiCo's split_data)",
         r"\nabla_{W}\mathcal{L}_{n}"),
    Stat("relu_in", tensor("R"), "relu", "input of every ReLU run (module or functional), in call order, "
         "batch-first", r"Z"),
    Stat("input_grad", tensor("X"), "jacov", "d sum(logits) / d input for each probe image (Jacov's "
         "Jacobian; one layer: the input)", r"J"),
    Stat("act_single", tensor("A1"), "single", "layer outputs of a train-mode forward of the first probe "
         "image alone (MeCo's one-image setting), batch-first with one sample", r"A_{1}"),
    # blocks (AZ-NAS), the NTK (TE-NAS), per-image gradients (GradSign), labels (EPE-NAS)
    Stat("block_out", tensor("B"), "blocks", "output of every block the network declares (probe_blocks(): "
         "NB201's stem and cells), batch-first, train mode", r"F"),
    Stat("block_jac", tensor("J"), "blocks", "per block after the first: G_in^T G_out / N, G_out a Rademacher "
         "cotangent at its output and G_in its vector-Jacobian product at its input (AZ-NAS; zero for a "
         "block that passes gradients unchanged)", r"M", "one vector-Jacobian product per block"),
    Stat("ntk", tensor("N"), "ntk", "empirical NTK J J^T over the probe images (one B x B layer), J_i the "
         "gradient of image i's summed logits w.r.t. every parameter named *weight* (TE-NAS)", r"\Theta",
         "one backward pass per probe image; a B x parameters Jacobian in memory"),
    Stat("grad_each", tensor("W|i"), "each", "cross-entropy gradient of each layer weight for each probe "
         "image forwarded alone (GradSign), stacked on a leading axis", r"\nabla_{W}\ell_{i}",
         "one forward and backward per probe image; B copies of the weights"),
    Stat("same_class", tensor("corr(X)"), "labels", "1 where two probe images share a label (B x B, the "
         "shape of corr(input_grad); EPE-NAS's grouping by class)", r"\mathbb{1}_{y_i = y_j}"),
    # the Fisher information of the predictive distribution over sampled weights (VKDNW); its own domain
    # over the network axis (one P x P layer), which never meets the NTK's
    Stat("fisher", tensor("fim(N)"), "fisher", "Fisher information matrix (P x P, one layer) of the smoothed "
         f"softmax over the first entry of each of the first {FISHER_PARAMS} trainable parameter tensors, eval "
         "mode: the mean over the probe images of (L J)^T (L J), J the logits' Jacobian, L L^T = diag(p) - p p^T "
         "(VKDNW's F as its authors' code forms it)", r"F_{\theta}",
         "one backward pass per class (per class and probe image where its taps do not apply)"),
]:
    register_stat(_s)
