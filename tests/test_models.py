"""Model zoo: output shapes, parameter counts from the layer shapes, ReLU/BN structure, validation."""
import pytest
import torch
from torch import nn

from advland.empirical.models import DEFAULT_WIDTH, MODEL_NAMES, build_model


def conv(cin, cout, k, bias=True):
    return cin * cout * k * k + (cout if bias else 0)


def fc(i, o):
    return i * o + o


def bn(c):
    return 2 * c


def lenet_count(w, classes=10):
    # conv 1->2w 5x5, conv 2w->4w 5x5, FC (7*7*4w = 196w)->64w, FC 64w->classes
    return conv(1, 2 * w, 5) + conv(2 * w, 4 * w, 5) + fc(196 * w, 64 * w) + fc(64 * w, classes)


def vgg_count(w, classes=10):
    chans = [4, 4, 8, 8, 16, 16, 16, 32, 32, 32, 32, 32, 32]
    total, cin = 0, 3
    for c in chans:
        total += conv(cin, c * w, 3) + bn(c * w)
        cin = c * w
    return total + fc(32 * w, classes)


def resnet18_count(w, classes=10, preact=False):
    widths = [4 * w, 8 * w, 16 * w, 32 * w]
    total = conv(3, 4 * w, 3, bias=False) + (0 if preact else bn(4 * w))
    cin = 4 * w
    for stage, cout in enumerate(widths):
        for b in range(2):
            c_in = cin if b == 0 else cout
            total += conv(c_in, cout, 3, False) + conv(cout, cout, 3, False) + bn(c_in if preact else cout) + bn(cout)
            if b == 0 and stage > 0:  # projection shortcut (1x1 conv, plus BN in the post-activation net)
                total += conv(c_in, cout, 1, False) + (0 if preact else bn(cout))
        cin = cout
    return total + (bn(cin) if preact else 0) + fc(cin, classes)


def mlp_count(w, d=784, classes=10):
    return fc(d, 16 * w) + fc(16 * w, 16 * w) + fc(16 * w, classes)


def n_params(model):
    return sum(p.numel() for p in model.parameters())


SHAPE = {"lenet": (1, 28), "mlp": (1, 28), "linear": (1, 28), "vgg": (3, 32), "resnet18": (3, 32),
         "preactresnet18": (3, 32)}
RELUS = {"lenet": 3, "vgg": 13, "resnet18": 17, "preactresnet18": 17, "mlp": 2, "linear": 0}
BNS = {"lenet": 0, "vgg": 13, "resnet18": 20, "preactresnet18": 17, "mlp": 0, "linear": 0}


@pytest.mark.parametrize("w", [1, 2, 16])
def test_lenet_parameter_count(w):
    assert n_params(build_model("lenet", width=w)) == lenet_count(w)


def test_lenet_default_is_madry_mnist_net():
    m = build_model("lenet")
    assert DEFAULT_WIDTH["lenet"] == 16 and n_params(m) == lenet_count(16)
    assert 3.27e6 < lenet_count(16) < 3.28e6  # 32/64 channels, 1024 hidden units
    assert [m.conv1.out_channels, m.conv2.out_channels, m.fc1.out_features] == [32, 64, 1024]


@pytest.mark.parametrize("w", [1, 2])
def test_vgg_and_resnet_counts(w):
    assert n_params(build_model("vgg", width=w)) == vgg_count(w)
    assert n_params(build_model("resnet18", width=w)) == resnet18_count(w)
    assert n_params(build_model("preactresnet18", width=w)) == resnet18_count(w, preact=True)
    assert n_params(build_model("mlp", width=w)) == mlp_count(w)


def test_full_width_resnets_match_known_sizes():
    # CIFAR ResNet-18 with 64..512 channels has 11,173,962 parameters; the AWP/Rice PreActResNet-18
    # has 11,171,146 plus its final BatchNorm (2 x 512).
    assert resnet18_count(16) == 11_173_962 and resnet18_count(16, preact=True) == 11_171_146 + 1024
    assert n_params(build_model("resnet18", width=16)) == resnet18_count(16)
    assert n_params(build_model("preactresnet18")) == resnet18_count(16, preact=True)
    assert n_params(build_model("linear")) == fc(784, 10)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_output_shape_relus_and_batchnorms(name):
    c, s = SHAPE[name]
    width = None if name == "linear" else 1
    model = build_model(name, width=width, num_classes=7).eval()
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    assert len(relus) == RELUS[name] and len({id(m) for m in relus}) == len(relus)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == BNS[name]
    calls = []
    hooks = [m.register_forward_hook(lambda mod, i, o: calls.append(id(mod))) for m in relus]
    out = model(torch.rand(3, c, s, s))
    for h in hooks:
        h.remove()
    assert out.shape == (3, 7)
    assert sorted(calls) == sorted(id(m) for m in relus)  # each ReLU module used exactly once


def test_widths_scale_channels_exactly():
    vgg = build_model("vgg", width=3)
    convs = [m.out_channels for m in vgg.modules() if isinstance(m, nn.Conv2d)]
    assert convs == [3 * c for c in (4, 4, 8, 8, 16, 16, 16, 32, 32, 32, 32, 32, 32)]
    res = build_model("resnet18", width=3)
    assert [res.layer1[0].conv1.out_channels, res.layer2[0].conv1.out_channels,
            res.layer3[0].conv1.out_channels, res.layer4[0].conv1.out_channels] == [12, 24, 48, 96]
    assert all(m.bias is None for m in res.modules() if isinstance(m, nn.Conv2d))


def test_preact_normalisation_is_fixed_buffers():
    m = build_model("preactresnet18", width=1)
    names = {n for n, _ in m.named_parameters()}
    assert not any(n.startswith("normalize") for n in names)
    state = m.state_dict()
    assert state["normalize.mean"].shape == (1, 3, 1, 1) and state["normalize.std"].shape == (1, 3, 1, 1)
    x = torch.rand(2, 3, 32, 32)
    expected = (x - state["normalize.mean"]) / state["normalize.std"]
    assert torch.allclose(m.normalize(x), expected)


def test_liu_models_take_raw_inputs():
    # Liu's normaliser is the identity: no Normalize module and no buffer other than BN statistics.
    for name in ("lenet", "vgg", "resnet18"):
        m = build_model(name, width=1)
        assert all(n.rsplit(".", 1)[-1] in ("running_mean", "running_var", "num_batches_tracked")
                   for n, _ in m.named_buffers())


def test_other_input_geometries():
    assert build_model("lenet", width=1, in_channels=3)(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    assert build_model("mlp", width=1, in_channels=1, image_size=4)(torch.rand(2, 1, 4, 4)).shape == (2, 10)
    assert n_params(build_model("linear", in_channels=3)) == fc(3 * 32 * 32, 10)


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "8"])
def test_bad_width_lists_allowed(bad):
    with pytest.raises(ValueError, match="width must be a positive int"):
        build_model("vgg", width=bad)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="lenet, vgg, resnet18, preactresnet18, mlp, linear"):
        build_model("wrn34")
    with pytest.raises(ValueError, match="no width"):
        build_model("linear", width=4)
    with pytest.raises(ValueError, match="in_channels allowed: 3"):
        build_model("preactresnet18", in_channels=1)
    with pytest.raises(ValueError, match="image_size >= 32"):
        build_model("vgg", width=1, image_size=16)
    with pytest.raises(ValueError, match="num_classes"):
        build_model("mlp", num_classes=0)
