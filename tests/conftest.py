import os
import random
import shutil
import tempfile

import pytest
import torch
from hypothesis import settings


from evoproxy.evolve.generate import Generator

# The default test run draws the same property-test examples every time, so CI passes or fails on the code, not
# on the draw; `pytest --hypothesis-profile=explore` draws fresh examples to look for new failures.
settings.register_profile("default", derandomize=True)
settings.register_profile("explore", derandomize=False)

# Measurements cached by `bench build` and `allocate` go to the data directory's cache/ folder; the tests keep
# theirs in a folder of their own (removed at the end), never in the user's data directory.
_CACHE = tempfile.mkdtemp(prefix="evoproxy-test-cache-")
os.environ["EVOPROXY_CACHE_DIR"] = _CACHE


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_CACHE, ignore_errors=True)


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
