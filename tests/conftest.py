import random

import pytest
import torch

from evoproxy.evolve.generate import Generator


@pytest.fixture
def programs():
    """A fixed sample of random well-typed whole-network programs."""
    gen, rng = Generator(), random.Random(1234)
    return [gen.program(rng) for _ in range(200)]


@pytest.fixture
def one_thread():
    """Tiny nets: intra-op threads only add overhead (and spin badly on a busy 2-core box)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
