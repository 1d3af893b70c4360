import random

import pytest
import torch
from hypothesis import settings


from evoproxy.evolve.generate import Generator

# The default test run draws the same property-test examples every time, so CI passes or fails on the code, not
# on the draw; `pytest --hypothesis-profile=explore` draws fresh examples to look for new failures.
settings.register_profile("default", derandomize=True)
settings.register_profile("explore", derandomize=False)


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
