"""empirical.state: whatever the body does to parameters, buffers and modes, preserved() puts back bit for bit."""
import contextlib

import pytest
import torch
from torch import nn

from advland.empirical.core.state import preserved, snapshot, state_equal


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.bn = nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)
        self.register_buffer("scale", torch.ones(1), persistent=False)  # not in state_dict

    def forward(self, x):
        return self.bn(self.conv(x)) * self.scale


@pytest.mark.parametrize("bn_mode", ["eval", "train"])
@pytest.mark.parametrize("raises", [False, True])
def test_everything_is_restored(bn_mode, raises):
    model = Net().eval()
    before = snapshot(model)
    expect_failure = pytest.raises(RuntimeError) if raises else contextlib.nullcontext()
    with expect_failure:
        with preserved(model, bn_mode):
            assert model.training == (bn_mode == "train") and model.bn.training == (bn_mode == "train")
            with torch.no_grad():
                model(torch.randn(4, 1, 5, 5))  # train mode: running stats and num_batches_tracked move
                model.conv.weight.add_(1.0)
                model.scale.mul_(3.0)
            if raises:
                raise RuntimeError("the body failed")
    assert state_equal(before, snapshot(model)) and not model.training


def test_bad_bn_mode_is_rejected():
    with pytest.raises(ValueError, match="bn_mode"):
        with preserved(Net(), "frozen"):
            pass
