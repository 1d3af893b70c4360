import random

import pytest

from evoproxy.generate import Generator


@pytest.fixture
def programs():
    """A fixed sample of random well-typed whole-network programs."""
    gen, rng = Generator(), random.Random(1234)
    return [gen.program(rng) for _ in range(200)]
