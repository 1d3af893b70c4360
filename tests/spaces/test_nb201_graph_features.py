"""GRAF-style architecture features of an NB201 cell, checked on cells worked out by hand."""
import pytest

from evoproxy.evolve.config import RunConfig
from evoproxy.spaces.nb201 import graph_features

MIXED = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|skip_connect~2|"


def test_a_cell_counts_its_ops_and_its_paths_through_convolutions():
    f = graph_features(MIXED)
    assert {k: f[k] for k in f if k.startswith("count_")} == {
        "count_none": 1, "count_skip_connect": 2, "count_nor_conv_1x1": 1, "count_nor_conv_3x3": 1,
        "count_avg_pool_3x3": 1}
    # output <- pool <- input (0 convs); <- 1x1 <- node1 <- 3x3 (2); <- skip <- node2 <- skip <- node1 <- 3x3 (1)
    assert (f["paths"], f["conv_paths"], f["min_conv_depth"], f["max_conv_depth"]) == (3, 2, 0, 2)


def test_a_cell_of_none_carries_nothing():
    f = graph_features("111111")   # NASLib digits: 1 = none on every edge
    assert f["count_none"] == 6 and f["paths"] == f["conv_paths"] == 0


def test_an_unknown_learned_model_is_refused_by_name():
    with pytest.raises(Exception, match="random_forest"):
        RunConfig(learned=("svm",))
