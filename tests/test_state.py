"""empirical.state: whatever the body does to parameters, buffers and modes, preserved() puts back bit for bit."""
import contextlib

import pytest
import torch
from torch import nn

from advland.empirical.attacks import pgd_attack
from advland.empirical.core.state import cpu_channels_last, preserved, snapshot, state_equal


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


def _cnn(channels: int) -> nn.Module:
    torch.manual_seed(channels)
    return nn.Sequential(nn.Conv2d(channels, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3), nn.Flatten(),
                         nn.LazyLinear(3))


def _is_channels_last(p: torch.Tensor) -> bool:
    n, c, h, w = p.shape
    return p.stride() == (c * h * w, 1, w * c, c)


@pytest.mark.parametrize("channels", [1, 3])
def test_cpu_channels_last_swaps_kernels_for_the_body_and_puts_the_same_tensors_back(channels):
    """Inside: every kernel has channels_last strides (a one-channel kernel too, which ``contiguous`` leaves alone)
    and the same values; afterwards: the very tensors of before (storage and strides), so a graph held over the
    model across the body still back-propagates to the same gradients."""
    model = _cnn(channels)
    x = torch.rand(5, channels, 8, 8)
    model(x)  # materialise the lazy layer
    kernels = [p for p in model.parameters() if p.dim() == 4]
    before = [(p.data_ptr(), p.stride(), p.detach().clone()) for p in kernels]
    held = model(x).square().sum()                    # a graph over the model, built before the body
    reference = torch.autograd.grad(model(x).square().sum(), kernels)
    with cpu_channels_last(model):
        assert all(_is_channels_last(p) for p in kernels)
        assert all(torch.equal(p, old) for p, (_, _, old) in zip(kernels, before))
        model(torch.rand(5, channels, 8, 8)).sum().backward()
    assert [(p.data_ptr(), p.stride()) for p in kernels] == [(ptr, stride) for ptr, stride, _ in before]
    grads = torch.autograd.grad(held, kernels)
    assert all(torch.equal(a, b) for a, b in zip(grads, reference))
    with cpu_channels_last(lambda z: z):              # a plain callable: nothing to do
        pass


@pytest.mark.parametrize("channels", [1, 3])
def test_attacks_in_the_fast_layout_agree_with_the_plain_layout(channels):
    """The attack runs the model with channels_last kernels: the same iterates up to float rounding, the model and
    its layout untouched afterwards, and delta in the layout of x."""
    model = _cnn(channels).eval()
    g = torch.Generator().manual_seed(channels)
    x, y = torch.rand(16, channels, 8, 8, generator=g), torch.randint(0, 3, (16,), generator=g)
    model(x)
    strides, snap = [p.stride() for p in model.parameters()], snapshot(model)
    fast = pgd_attack(model, x, y, eps=0.1, steps=5, generator=torch.Generator().manual_seed(0))
    assert state_equal(snap, snapshot(model)) and strides == [p.stride() for p in model.parameters()]
    assert fast.delta.is_contiguous()
    plain = pgd_attack(lambda z: model(z), x, y, eps=0.1, steps=5, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(fast.loss, plain.loss, atol=1e-5) and torch.equal(fast.fooled, plain.fooled)
