"""The GPU path on a machine without one: a search asked for cuda scores on the cpu with one note (the same run
as on the cpu), and a Ray worker on cuda reserves a whole GPU, one worker per GPU."""
import pytest
import torch

from evoproxy.app.benchmarks import usable_device
from evoproxy.backends import ray as ray_backend
from evoproxy.errors import EvoproxyError, EvoproxyNote
from evoproxy.scoring.setup import EvalSetup
from tests.evolve.test_search import search, trace

no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: nothing falls back")


@no_gpu
def test_a_missing_gpu_falls_back_to_the_cpu_with_one_note():
    with pytest.warns(EvoproxyNote, match="'cuda' is not available on this machine: scoring on the cpu"):
        assert usable_device("cuda") == "cpu"
    assert usable_device("cuda", elsewhere=True) == "cuda"  # a cluster's nodes answer for themselves
    assert usable_device("cpu") == "cpu"
    with pytest.raises(EvoproxyError, match="unknown device"):
        usable_device("nosuch")


@no_gpu
def test_a_search_asked_for_cuda_here_is_the_cpu_run(tmp_path):
    with pytest.warns(EvoproxyNote, match="scoring on the cpu"):
        _, on_cuda = search(tmp_path, "cuda", generations=1, device="cuda")
    _, on_cpu = search(tmp_path, "cpu", generations=1)
    assert trace(on_cuda) == trace(on_cpu)


def test_a_cuda_worker_reserves_a_gpu_and_the_workers_are_no_more_than_the_gpus(monkeypatch):
    assert ray_backend.actor_resources(EvalSetup(device="cuda")) == {"num_cpus": 1, "num_gpus": 1}
    assert ray_backend.actor_resources(EvalSetup()) == {"num_cpus": 1}
    monkeypatch.setattr(ray_backend.ray, "cluster_resources", lambda: {"CPU": 16.0, "GPU": 2.0})
    assert ray_backend.gpu_workers(2) == 2
    with pytest.warns(EvoproxyNote, match="3 workers asked, 2 GPU"):
        assert ray_backend.gpu_workers(3) == 2
    monkeypatch.setattr(ray_backend.ray, "cluster_resources", lambda: {"CPU": 16.0})
    with pytest.raises(EvoproxyError, match="no GPU"):
        ray_backend.gpu_workers(1)
