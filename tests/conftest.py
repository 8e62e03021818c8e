"""Test-session settings and the suite's shared tiny models and data.

Settings: one BLAS/torch thread (the suite's models are tiny; on a 2-core CI machine oversubscribed threads cost
more than they give) and the non-interactive matplotlib backend.

Hypothesis profiles, chosen by ``$ADVLAND_HYPOTHESIS_PROFILE``:

* ``advland`` (default, CI): derandomized, so every run draws the same examples; failures still shrink and print
  a reproduction blob;
* ``dev``: the same with a quarter of the examples, for quick local runs;
* ``thorough``: five times the examples, randomized (a new search on every run).

A test that sets its own ``@settings(max_examples=m)`` keeps that count under every profile (its budget is part of
what it tests); the profile sets the count of every other property test.

Fixtures are factories (call them for a fresh model or data set): ``tiny_net``/``tiny_data``, a conv-ReLU-linear
net (BatchNorm optional) on 1x8x8 images whose class shifts the pixel spread (the training tests), and
``bn_net``/``bn_data``, a float64 conv-BN-ReLU-linear net with non-trivial running statistics on 2x4x4 inputs
(the landscape instruments).
"""
import os

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
from hypothesis import settings  # noqa: E402
from torch import nn  # noqa: E402

torch.set_num_threads(1)

PROFILE_ENV = "ADVLAND_HYPOTHESIS_PROFILE"
_COMMON = dict(database=None, deadline=None, print_blob=True)
settings.register_profile("advland", derandomize=True, max_examples=100, **_COMMON)
settings.register_profile("dev", derandomize=True, max_examples=25, **_COMMON)
settings.register_profile("thorough", derandomize=False, max_examples=500, **_COMMON)
PROFILE = os.environ.get(PROFILE_ENV, "advland")
if PROFILE not in ("advland", "dev", "thorough"):
    raise pytest.UsageError(f"{PROFILE_ENV} must be advland, dev or thorough, got {PROFILE!r}")
settings.load_profile(PROFILE)


@pytest.fixture(autouse=True, scope="session")
def private_results_store(tmp_path_factory):
    """`advland verify` in tests keeps its units in a store of the test session, never in the user's cache."""
    os.environ["ADVLAND_STORE"] = str(tmp_path_factory.mktemp("store") / "store.sqlite")


def _tiny_net(seed=0, bn=True, classes=4):
    torch.manual_seed(seed)
    layers = [nn.Conv2d(1, 4, 3, padding=1)] + ([nn.BatchNorm2d(4)] if bn else []) + [
        nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 8), nn.ReLU(), nn.Linear(8, classes)]
    return nn.Sequential(*layers)


def _tiny_data(n=64, seed=0, classes=4):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    x = (0.5 + 0.3 * torch.randn(n, 1, 8, 8, generator=g) * (y[:, None, None, None] + 1) / classes).clamp(0, 1)
    return x, y


def _bn_net():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(12, 4)).double()
    with torch.no_grad():
        m.train()(torch.rand(16, 2, 4, 4, dtype=torch.float64))  # non-trivial running statistics
    return m.eval()


def _bn_data(n=12, seed=1, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 2, 4, 4, generator=g, dtype=dtype), torch.randint(0, 4, (n,), generator=g)


@pytest.fixture
def tiny_net():
    """``tiny_net(seed=0, bn=True, classes=4)``: conv(1->4)-[BN]-ReLU-pool-linear(64->8)-ReLU-linear(8->classes)."""
    return _tiny_net


@pytest.fixture
def tiny_data():
    """``tiny_data(n=64, seed=0, classes=4)``: (x in [0,1] of shape (n, 1, 8, 8), y) with a class-dependent spread."""
    return _tiny_data


@pytest.fixture
def bn_net():
    """``bn_net()``: float64 conv(2->3)-BN-ReLU-linear(12->4) in eval mode with non-trivial running statistics."""
    return _bn_net


@pytest.fixture
def bn_data():
    """``bn_data(n=12, seed=1, dtype=float64)``: (x uniform in [0,1] of shape (n, 2, 4, 4), y in 0..3)."""
    return _bn_data
