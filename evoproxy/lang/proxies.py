"""The classic zero-cost proxies, each registered as a program in the proxy language.

Each is an ordinary program; Zen, params and FLOPs are whole-network statistics (a single leaf).
The NASWOT and Jacov leaves (``nwot``, ``jacov`` statistics) stay only as independent checks of
their formulas. All are "higher is better".
"""
from __future__ import annotations

from dataclasses import dataclass

from evoproxy.lang.program import Program, check_proxy, parse
from evoproxy.registry import Registry


@dataclass(frozen=True)
class ClassicProxy:
    name: str
    formula: str
    description: str
    source: str
    lines: tuple[str, ...] = ("nas",)
    """Which benchmark families ``--proxy all`` scores it on: "nas" (untrained networks), "mq"
    (bit configurations of a trained network), "vit" (ViT students beside a CNN teacher)."""
    departures: str = ""
    """Every way it differs from the authors' reference code (empty: none known)."""

    @property
    def program(self) -> Program:
        return check_proxy(parse(self.formula))


PROXIES: Registry[ClassicProxy] = Registry("proxy")


def register_proxy(proxy: ClassicProxy) -> ClassicProxy:
    """Add a classic proxy (its formula must parse and give one number per network)."""
    check_proxy(parse(proxy.formula))  # checked now, not when first used
    return PROXIES.add(proxy.name, proxy)

_C = "step(relu_in)"                 # NASWOT's binary activation codes
_EIG = "eigvals(corr(input_grad))"   # Jacov's Jacobian correlation spectrum

_AZ_H = "log(eff_rank(cov(channels(block_out))))"   # per block: entropy of the channel-covariance spectrum
_AZ_E = f"layer_sum({_AZ_H})"
_AZ_S = "eig_max(block_jac)"
_AZ_T = f"layer_mean(sub(2.0, add({_AZ_S}, invert(add({_AZ_S}, 1e-06)))))"
_AZ_INIT = "probed with the benchmark's init and the probe batch (the reference: Kaiming-normal re-init, B = 64 " \
           "N(0, 1) images)"
_AZ_FEATURES = "an all-zero block output has entropy 0 (the reference: -inf); " + _AZ_INIT
_LR = "layer_sum(distinct_rows(neurons(layers_concat(neurons(step(relu_in))))))"
_JACOV = f"negate(layer_sum(sum(add(log(add({_EIG}, 1e-05)), invert(add({_EIG}, 1e-05))))))"

_VK_Q = "deciles(eigvals(fisher))"                    # VKDNW: the deciles of the Fisher spectrum,
_VK_P = f"div({_VK_Q}, add(l1({_VK_Q}), 1e-10))"      # normalised to sum 1,
_VK_H = f"layer_sum(negate(sum(mul({_VK_P}, log(add({_VK_P}, 1e-10))))))"   # their entropy
_VK = f"add(mul(3.0, layer_sum(step(numel))), {_VK_H})"  # trainable layers first, the entropy breaks ties
_VK_SETTING = "probed with the benchmark's init and the probe batch (the reference: Kaiming-normal re-init, " \
              "B = 64 N(0, 1) images); the softmax smoothed with a = 0.05 (the reference: float16 0.05)"
_VK_ALEPH = "the number of trainable layers counted as measured Conv/Linear layers (the reference counts " \
            "parameter tensors, BN scales and shifts and biases included: on NB201 both grow by a fixed step " \
            "per convolution of the cell, so they order networks alike); " + _VK_SETTING

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
    ClassicProxy("synflow", "add(log(add(1.0, layer_sum(sum(abs(mul(virtual_grad, weight)))))), virtual_grad_scale)",
                 "synaptic flow on the |W| network with an all-ones input, as log(1 + S): the same ranking, "
                 "finite on 1,000+-layer networks", "Tanaka et al. 2020", ("nas", "mq"),
                 departures="log(1 + S) plus the rescaling factor instead of S (rank-preserving); BN in eval mode"),
    ClassicProxy("jacov", _JACOV,
                 "-sum(log(v + k) + 1/(v + k)) over the eigenvalues v of the correlation matrix of the "
                 "per-image input Jacobians of sum(logits), k = 1e-5", "Mellor et al. 2021 (v1)",
                 departures="eigenvalues as singular values of the correlation matrix (equal: it is PSD); a "
                            "network whose Jacobian is constant (no path from input to output) scores "
                            "-B (log 1e-5 + 1e5), the lowest (the reference: NaN, ranked lowest)"),
    ClassicProxy("nwot", f"layer_sum(logdet(layers_total(add(matmul({_C}, {_C}), matmul(sub(1.0, {_C}), sub(1.0, {_C}))))))",
                 "log|K|, K = sum over every ReLU of c c^T + (1-c)(1-c)^T with c the binary codes of the "
                 "ReLU's input per image", "Mellor et al. 2021 (NASWOT)",
                 departures="log|K| as the sum of log singular values (equal for a nonsingular K); every ReLU "
                            "counted once (NASLib's rule: the authors' class-name test also matches NB201's "
                            "ReLUConvBN wrapper, counting each conv edge twice)"),
    ClassicProxy("zen", "zen", "Zen-score", "Lin et al. 2021"),
    ClassicProxy("zico", "layer_sum(log(sum(div(sample_mean(abs(grad_split)), sample_std(grad_split)))))",
                 "sum over layers of log sum_w mean|g_w| / std(g_w) over the two halves of the probe batch "
                 "(weights with zero std add 0)", "Li et al. 2023 (ZiCo, ICLR)",
                 departures="the two halves of one probe batch (the official script draws two separate batches)"),
    ClassicProxy("meco", "layer_sum(eig_min(corr(channels(act_single))))",
                 "sum over layers of the smallest eigenvalue of the channel correlation matrix of the feature "
                 "map of the first probe image, forwarded alone", "Jiang et al. 2023 (MeCo, NeurIPS)",
                 departures="Conv/Linear outputs only (the reference hooks every module, containers, BN and ReLU "
                            "included)"),
    ClassicProxy("swap", "layer_sum(distinct_rows(layers_concat(neurons(step(relu_in)))))",
                 "number of distinct sample-wise activation patterns over every ReLU unit",
                 "Peng et al. 2024 (SWAP, ICLR)",
                 departures="ReLUs of any input rank (the reference hooks 4-D inputs; every NB201 ReLU is); "
                            "probed once with the benchmark's init (the reference re-initialises N(0,1), BN "
                            "1/0, and averages 32 draws)"),
    ClassicProxy("aznas_expressivity", _AZ_E, "sum over blocks of the entropy of the normalised eigenvalues "
                 "of the channel covariance of the block's output", "Lee & Ham 2024 (AZ-NAS, CVPR)",
                 departures=_AZ_FEATURES),
    ClassicProxy("aznas_progressivity", f"layer_min(layer_diff({_AZ_H}))",
                 "smallest increase of that entropy from one block to the next", "Lee & Ham 2024 (AZ-NAS, CVPR)",
                 departures=_AZ_FEATURES),
    ClassicProxy("aznas_trainability", _AZ_T,
                 "mean over blocks of 2 - s - 1/(s + 1e-6), s the largest singular value of the block's "
                 "Jacobian probed with a Rademacher cotangent", "Lee & Ham 2024 (AZ-NAS, CVPR)",
                 departures="a block that passes gradients unchanged scores 2 - 1e6 (the reference: -inf); "
                            + _AZ_INIT),
    ClassicProxy("aznas", f"add(add(log(rank({_AZ_E})), log(rank(layer_min(layer_diff({_AZ_H}))))), "
                 f"add(log(rank({_AZ_T})), log(rank(flops))))",
                 "sum of the log fractional ranks of expressivity, progressivity, trainability and FLOPs "
                 "among the networks scored together (set-level)", "Lee & Ham 2024 (AZ-NAS, CVPR)",
                 departures="FLOPs without bias additions (the NB201 API counts them); " + _AZ_FEATURES),
    ClassicProxy("tenas_ntk", "negate(layer_sum(cond(ntk)))",
                 "-condition number of the empirical NTK of sum(logits) over the probe images",
                 "Chen et al. 2021 (TE-NAS, ICLR)",
                 departures="the condition number from singular values (the reference: eigenvalues, NaN as 1e5)"),
    ClassicProxy("tenas_lr", _LR, "number of distinct activation patterns of the probe images over every ReLU",
                 "Chen et al. 2021 (TE-NAS, ICLR)",
                 departures="the full network on the probe batch, as AZ-NAS's port (the original counts a "
                            "1-channel supernet on 3,000 3x3 crops); ReLUs of any input rank"),
    ClassicProxy("tenas", f"add(rank(negate(layer_sum(cond(ntk)))), rank({_LR}))",
                 "rank of -NTK condition number + rank of linear regions among the networks scored together "
                 "(set-level)", "Chen et al. 2021 (TE-NAS, ICLR)",
                 departures="ranks / n (the same order as rank sums); as tenas_ntk and tenas_lr"),
    ClassicProxy("gradsign", "layer_sum(l1(sample_mean(sign(grad_each))))",
                 "sum over weights of |mean over images of the sign of the image's own gradient|",
                 "Zhang & Jia 2022 (GradSign, ICLR)",
                 departures="the mean over images, i.e. the reference's sum of signs / B (the same ranking at "
                            "a fixed batch)"),
    ClassicProxy("epe_nas", "mul(negate(layer_sum(sum(mul(same_class, log(add(abs(corr(input_grad)), 1e-05)))))), "
                 "layer_sum(step(eig_max(corr(input_grad)))))",
                 "-sum over classes of sum_ij log(|corr(J_i, J_j)| + 1e-5) over the probe images i, j of the "
                 "class, J the input Jacobian of sum(logits)", "Lopes et al. 2021 (EPE-NAS)",
                 departures="-E_c instead of |E_c| per class (equal unless all of a class's Jacobians are "
                            "collinear; a one-image class adds -1e-5 instead of +1e-5); a network whose input "
                            "Jacobian is constant (no path from input to output) scores 0, the lowest (the "
                            "reference: NaN, ranked lowest); the <= 100-class rule on every dataset (as the "
                            "authors' script, which never passes the class count)"),
    ClassicProxy("vkdnw_entropy", _VK_H, "entropy of the normalised 9 deciles of the eigenvalues of the "
                 "Fisher information over one sampled weight per parameter tensor (first 128)",
                 "Tybl & Neumann 2025 (VKDNW, CVPR)", departures=_VK_SETTING),
    ClassicProxy("vkdnw", _VK, "VKDNW_single: the number of trainable layers, ties broken by the entropy of the "
                 "Fisher spectrum's deciles (3 per layer + the entropy, which stays below log 9 < 3)",
                 "Tybl & Neumann 2025 (VKDNW, CVPR)", departures=_VK_ALEPH),
    ClassicProxy("vkdnw_agg", f"add(add(add(log(rank({_VK})), log(rank({_AZ_E}))), add(log(rank({_AZ_T})), "
                 f"log(rank(flops)))), log(rank({_JACOV})))",
                 "VKDNW_agg: sum of the log fractional ranks of VKDNW_single, AZ-NAS's expressivity and "
                 "trainability, FLOPs and Jacov among the networks scored together (set-level)",
                 "Tybl & Neumann 2025 (VKDNW, CVPR)",
                 departures="ranks / n (the same order as the reference's rank sums); a network with a constant "
                            "Jacobian ranks lowest on Jacov (the reference: its NaN set to the smallest Jacov); "
                            "as vkdnw, aznas and jacov"),
    ClassicProxy("l2_norm", "layer_sum(l2(weight))", "sum of per-layer weight norms",
                 "NAS-Bench-Suite-Zero"),
    ClassicProxy("plain", "layer_sum(sum(mul(grad, weight)))", "sum of g * W",
                 "NAS-Bench-Suite-Zero"),
    ClassicProxy("params", "params", "trainable parameter count", "baseline", ("nas", "vit")),
    ClassicProxy("flops", "flops", "multiply-accumulates per image", "baseline", ("nas", "vit")),
    # ViT students and a CNN teacher (TVT / Auto-Prox): teacher statistics from the kd pass.
    ClassicProxy("tvt_capability", "layer_sum(l2(weight))",
                 "sum of every Conv2d/Linear weight's Frobenius norm (TVT's capability term)",
                 "TVT (Auto-Prox's tvt.py)", ("nas", "vit")),
    ClassicProxy("tvt_teacher", "negate(layer_last(mse(attention_map(t_feat), attention_map(s_feat))))",
                 "-MSE of teacher and student attention maps at the last stage (TVT's teacher term)",
                 "TVT (Auto-Prox's tvt.py)", ("vit",)),
    ClassicProxy("tvt", "div(layer_sum(l2(weight)), layer_last(mse(attention_map(t_feat), attention_map(s_feat))))",
                 "TVT's two terms combined scale-free: capability / teacher attention distance "
                 "(the reference code returns them separately)", "TVT", ("vit",)),
    ClassicProxy("diswot", "negate(add(layer_sum(mse(gram_batch(t_cls_grad), gram_batch(s_cls_grad))), "
                 "layer_last(mse(gram_batch(t_feat), gram_batch(s_feat)))))",
                 "-(semantic: class Gram of classifier-weight gradients + relation: batch Gram of the "
                 "last features), teacher vs student", "Dong et al. 2023 (DisWOT)", ("vit",)),
    ClassicProxy("autoprox", "add(layer_mean(l2(minmax(weight))), layer_mean(mean(sqrt(sigmoid(act_grad)))))",
                 "Auto-Prox's discovered tree: mean ||minmax(W)||_F + mean sqrt(sigmoid(grad)) (the "
                 "gradient input is taken at Linear outputs; theirs is at LayerNorm outputs)",
                 "Wei et al. 2024 (Auto-Prox)", ("vit",)),
    # Mixed-precision quantization: rank bit configurations of one trained network.
    ClassicProxy("bparams", "layer_sum(mul(bits, numel))", "bit-weighted parameter count (model size)",
                 "EMQ baseline", ("mq",)),
    ClassicProxy("bops", "layer_sum(mul(mul(bits, act_bits), macs))", "bit operations per image",
                 "EMQ baseline", ("mq",)),
    ClassicProxy("bsnip", "layer_sum(mul(bits, sum(abs(mul(grad, weight)))))",
                 "bit-weighted SNIP", "EMQ baseline", ("mq",)),
    ClassicProxy("bsynflow",
                 "add(log(add(1.0, layer_sum(mul(bits, sum(abs(mul(virtual_grad, weight))))))), virtual_grad_scale)",
                 "bit-weighted synflow, as log(1 + S)", "EMQ baseline", ("mq",)),
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
    register_proxy(_p)


EVOLVED = "evoproxy search (this project)"
"""The source of the shipped evolved proxies; their provenance files are in ``experiments/proxies/``
and they are not part of ``--proxy all`` (``lines=()``)."""

for _p in [
    ClassicProxy("evo_nb201", "layer_sum(eig_min(softmax(abslog(grad))))",
                 "the evolved NB201 formula: the smallest singular value of each layer's gradient after a "
                 "row softmax of log|g|, summed (the learned-baselines study's best single formula by "
                 "selection-split fitness)", EVOLVED, ()),
    ClassicProxy("evo_nb201_ensemble",
                 "add(add(add(log(rank(layer_sum(mul(eig_min(corr(sqrt(channels(act_single)))), "
                 "mean(corr(grad)))))), log(rank(layer_sum(eig_min(corr(channels(softmax(act_single)))))))), "
                 "log(rank(layer_sum(mul(eig_min(corr(relu(channels(act_single)))), sum(corr(grad))))))), "
                 "log(rank(add(add(log(rank(layer_sum(log(eff_rank(cov(channels(block_out))))))), "
                 "log(rank(layer_min(layer_diff(log(eff_rank(cov(channels(block_out))))))))), "
                 "add(log(rank(layer_mean(sub(2.0, add(eig_max(block_jac), invert(add(eig_max(block_jac), "
                 "1e-06))))))), log(rank(flops)))))))",
                 "the evolved NB201 ensemble (set-level): three evolved MeCo-like terms and AZ-NAS, summed "
                 "log-ranks (the study's best ensemble by selection-split fitness)", EVOLVED, ()),
]:
    register_proxy(_p)


def proxies_for(line: str) -> list[str]:
    """Names of the classic proxies that ``--proxy all`` scores on a benchmark of ``line``."""
    return [p.name for p in PROXIES.values() if line in p.lines]
