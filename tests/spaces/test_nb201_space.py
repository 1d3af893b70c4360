"""Tests for the NAS-Bench-201 space (evoproxy.spaces.nb201)."""

from __future__ import annotations

import csv
import itertools
import os
from pathlib import Path

import pytest
import torch

from evoproxy.spaces.nb201 import OPS, arch_str, build_nb201, count_params, op_indices, parse_arch

NUM_CLASSES = {"cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}
EXAMPLE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
EXAMPLE_OPS = (
    ("nor_conv_3x3",),
    ("nor_conv_3x3", "avg_pool_3x3"),
    ("skip_connect", "nor_conv_3x3", "skip_connect"),
)
ALL_CONV3 = "222222"  # NASLib digit 2 = nor_conv_3x3


def _csv_path() -> Path:
    env = os.environ.get("EVOPROXY_DATA")
    base = Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared/data"
    return base / "nb201/nb201_zc_proxies_725x3_naslib.csv"


def _csv_rows() -> list[dict[str, str]]:
    path = _csv_path()
    if not path.is_file():
        pytest.skip(f"NB201 proxy CSV not found at {path} (set EVOPROXY_DATA to the data dir)")
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _check_row(row: dict[str, str], n_params: int) -> None:
    assert abs(n_params / 1e6 - float(row["params"])) < 1e-6, (row["dataset"], row["arch_str"], n_params)


# --- parsing -----------------------------------------------------------------


def test_ops_names() -> None:
    assert OPS == ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")


def test_parse_arch_string() -> None:
    assert parse_arch(EXAMPLE) == EXAMPLE_OPS
    assert arch_str(EXAMPLE_OPS) == EXAMPLE


def test_parse_op_indices_follows_naslib_edge_order() -> None:
    # edges 1->2, 1->3, 1->4, 2->3, 2->4, 3->4; ops 0 skip, 1 none, 2 conv3, 3 conv1, 4 pool
    assert parse_arch("023231") == (
        ("skip_connect",),
        ("nor_conv_3x3", "nor_conv_3x3"),
        ("nor_conv_1x1", "nor_conv_1x1", "none"),
    )
    assert op_indices(EXAMPLE) == "220420"
    assert parse_arch("000000") == (("skip_connect",), ("skip_connect",) * 2, ("skip_connect",) * 3)


def test_parse_accepts_op_sequences_and_unordered_inputs() -> None:
    assert parse_arch([list(n) for n in EXAMPLE_OPS]) == EXAMPLE_OPS
    shuffled = "|nor_conv_3x3~0|+|avg_pool_3x3~1|nor_conv_3x3~0|+|skip_connect~2|skip_connect~0|nor_conv_3x3~1|"
    assert parse_arch(shuffled) == EXAMPLE_OPS
    assert parse_arch(f"  {EXAMPLE}\n") == EXAMPLE_OPS


def test_round_trip_whole_space() -> None:
    seen = set()
    for digits in itertools.product("01234", repeat=6):
        idx = "".join(digits)
        ops = parse_arch(idx)
        assert op_indices(ops) == idx
        s = arch_str(ops)
        assert parse_arch(s) == ops and op_indices(s) == idx and arch_str(s) == s
        seen.add(s)
    assert len(seen) == 5**6 == 15625


@pytest.mark.parametrize(
    "bad",
    [
        0,
        15624,
        True,
        None,
        3.5,
        "",
        "12345",
        "0123456",
        "023235",
        "abcdef",
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|",  # two nodes
        EXAMPLE.replace("avg_pool_3x3", "max_pool_3x3"),  # op not in space
        EXAMPLE.replace("avg_pool_3x3~1", "avg_pool_3x3~2"),  # input index too large
        EXAMPLE.replace("avg_pool_3x3~1", "avg_pool_3x3~0"),  # duplicate input
        EXAMPLE.replace("skip_connect~2|", "skip_connect~2|none~2|"),  # extra edge
        EXAMPLE.replace("avg_pool_3x3~1", "avg_pool_3x3"),  # missing ~index
        EXAMPLE[1:],  # missing leading '|'
        (("none",), ("none", "none")),  # wrong shape
        (("none",), ("none", "none"), ("none", "none", "conv")),  # unknown op
        ("none", ("none", "none"), ("none", "none", "none")),  # node given as a bare string
    ],
)
def test_invalid_specs_raise_one_line_value_error(bad: object) -> None:
    with pytest.raises(ValueError) as info:
        parse_arch(bad)  # type: ignore[arg-type]
    msg = str(info.value)
    assert "\n" not in msg and "expected" in msg and "023231" in msg


def test_integer_index_message_points_to_benchmark_layer() -> None:
    with pytest.raises(ValueError, match="benchmark layer"):
        parse_arch(42)  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs", [{"num_classes": 0}, {"C": 0}, {"N": -1}, {"num_classes": 10.0}])
def test_build_rejects_bad_sizes(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        build_nb201(EXAMPLE, **kwargs)  # type: ignore[arg-type]


# --- network -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "num_classes", "size"),
    [(EXAMPLE, 10, 32), ("111111", 100, 32), ("000000", 120, 16), ("344213", 120, 16)],
)
def test_forward_returns_logits(spec: str, num_classes: int, size: int) -> None:
    torch.manual_seed(0)
    model = build_nb201(spec, num_classes=num_classes)
    for train in (True, False):
        model.train(train)
        with torch.no_grad():
            out = model(torch.randn(2, 3, size, size))
        assert isinstance(out, torch.Tensor) and out.shape == (2, num_classes)
        assert torch.isfinite(out).all()


def test_small_network_backward() -> None:
    model = build_nb201(EXAMPLE, num_classes=5, C=4, N=1)
    model(torch.randn(2, 3, 8, 8)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_cell_semantics() -> None:
    x = torch.randn(1, 16, 8, 8)
    skip_cell = build_nb201("000000").cells[0]  # n1 = x, n2 = 2x, n3 = x + x + 2x
    assert torch.allclose(skip_cell(x), 4 * x)
    assert torch.equal(build_nb201("111111").cells[0](x), torch.zeros_like(x))
    pool_cell = build_nb201("|avg_pool_3x3~0|+|none~0|none~1|+|none~0|avg_pool_3x3~1|none~2|").cells[0]
    ones = torch.ones(1, 16, 5, 5)
    assert torch.allclose(pool_cell(ones), ones)  # count_include_pad=False keeps borders at 1


def test_macro_structure() -> None:
    model = build_nb201(ALL_CONV3)
    assert len(model.cells) == 17  # 5 cells, reduction, 5 cells, reduction, 5 cells
    feats = model.stem(torch.zeros(1, 3, 32, 32))
    for cell in model.cells[:6]:
        feats = cell(feats)
    assert feats.shape == (1, 32, 16, 16)


def test_known_param_counts() -> None:
    # All-conv3: the benchmark's 1.531546 M (cifar10) and 1.538696 M (ImageNet16-120).
    assert count_params(build_nb201(ALL_CONV3)) == 1_531_546
    assert count_params(build_nb201(ALL_CONV3, num_classes=120)) == 1_538_696
    # All-none, by hand: stem 464 + reductions 14464 + 57600 + last BN 128 + head 650.
    assert count_params(build_nb201("111111")) == 73_306


@pytest.mark.data
def test_param_counts_sample_rows() -> None:
    rows = _csv_rows()
    for row in rows[:3] + rows[725:728] + rows[-3:]:
        _check_row(row, count_params(build_nb201(row["arch_str"], NUM_CLASSES[row["dataset"]])))


@pytest.mark.data
@pytest.mark.slow
def test_all_csv_rows_match_benchmark() -> None:
    """Every row: both encodings agree with the parser and params match exactly."""
    rows = _csv_rows()
    assert len(rows) > 2000
    by_arch: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        idx = row["naslib_op_indices"].zfill(6)
        assert parse_arch(row["arch_str"]) == parse_arch(idx), row
        assert arch_str(idx) == row["arch_str"] and op_indices(row["arch_str"]) == idx
        by_arch.setdefault(row["arch_str"], []).append(row)
    for spec, arch_rows in by_arch.items():  # one build per arch; swap the head per dataset
        model = build_nb201(spec)
        for row in arch_rows:
            model.classifier = torch.nn.Linear(64, NUM_CLASSES[row["dataset"]])
            _check_row(row, count_params(model))
