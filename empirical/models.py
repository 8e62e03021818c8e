"""Model zoo: Liu et al.'s width-w networks, the AWP PreActResNet-18, an MLP and logistic regression.

Widths follow Liu et al. (2020), official ``util/models.py`` (digest section 4.4); w is a positive int:

* ``lenet`` (MNIST, default w=16 = Madry's MNIST net): conv 5x5 in->2w pad 2, ReLU, maxpool 2,
  conv 5x5 2w->4w pad 2, ReLU, maxpool 2, FC 4w(s/4)^2->64w (= 196w at s=28), ReLU, FC 64w->classes.
* ``vgg`` (CIFAR-10 VGG-16(w), default w=8): conv3x3(+bias)-BN-ReLU with channels
  [4,4,M,8,8,M,16,16,16,M,32,32,32,M,32,32,32,M]*w, then FC 32w->classes.
* ``resnet18`` (CIFAR-10 ResNet-18(w), default w=8): 3x3 stem 4w, post-activation basic blocks
  [2,2,2,2] with widths 4w, 8w, 16w, 32w, convs without bias, BN, 1x1-conv+BN projection shortcuts,
  global average pool, FC 32w->classes. w=16 gives the usual 64..512 widths.
* ``preactresnet18`` (Wu et al. 2020 AWP / Rice et al. 2020, default w=16 = widths 64..512):
  pre-activation basic blocks (BN-ReLU-conv twice; the projection shortcut is a bare 1x1 conv fed the
  first BN-ReLU output), final BN-ReLU, global average pool, FC.
* ``mlp``: flatten, FC d->16w, ReLU, FC 16w->16w, ReLU, FC 16w->classes (default w=8).
* ``linear``: flatten, FC d->classes: multinomial logistic regression (no width).

Inputs are images in [0, 1]. Liu's models use them as is (his normaliser is the identity: bias 0,
scale 1). ``preactresnet18`` starts with a fixed ``Normalize`` module, (x - mean) / std with the CIFAR-10
channel statistics used by the AWP training script, stored as registered buffers (never parameters),
so it needs 3 input channels. Every ReLU is its own ``nn.ReLU`` instance; BN layers are ``nn.BatchNorm2d``.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from .names import DATASET_INFO, MODEL_NAMES

DEFAULT_WIDTH = {"lenet": 16, "vgg": 8, "resnet18": 8, "preactresnet18": 16, "mlp": 8, "linear": None}
HOME_DATASET = {"lenet": "mnist", "vgg": "cifar10", "resnet18": "cifar10", "preactresnet18": "cifar10",
                "mlp": "mnist", "linear": "mnist"}
VGG_LAYOUT = (4, 4, "M", 8, 8, "M", 16, 16, 16, "M", 32, 32, 32, "M", 32, 32, 32, "M")
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2471, 0.2435, 0.2616)


class Normalize(nn.Module):
    """Fixed per-channel input normalisation (x - mean) / std; mean and std are buffers, not parameters."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


def lenet(w, num_classes, in_channels, size):
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(in_channels, 2 * w, 5, padding=2)), ("relu1", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(2 * w, 4 * w, 5, padding=2)), ("relu2", nn.ReLU()), ("pool2", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(4 * w * (size // 4) ** 2, 64 * w)), ("relu3", nn.ReLU()),
        ("fc2", nn.Linear(64 * w, num_classes)),
    ]))


def vgg(w, num_classes, in_channels, size):
    layers, channels, n_conv, n_pool = [], in_channels, 0, 0
    for item in VGG_LAYOUT:
        if item == "M":
            n_pool += 1
            layers.append((f"pool{n_pool}", nn.MaxPool2d(2)))
        else:
            n_conv += 1
            layers += [(f"conv{n_conv}", nn.Conv2d(channels, item * w, 3, padding=1)),
                       (f"bn{n_conv}", nn.BatchNorm2d(item * w)), (f"relu{n_conv}", nn.ReLU())]
            channels = item * w
    layers += [("flatten", nn.Flatten()), ("fc", nn.Linear(channels * (size // 32) ** 2, num_classes))]
    return nn.Sequential(OrderedDict(layers))


class BasicBlock(nn.Module):
    """Post-activation block: relu2(bn2(conv2(relu1(bn1(conv1 x)))) + shortcut(x)) (He et al. 2016a)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu2 = nn.ReLU()
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.relu2(out + self.shortcut(x))


class PreActBlock(nn.Module):
    """Pre-activation block: a = relu1(bn1 x); conv2(relu2(bn2(conv1 a))) + (proj(a) or x) (He et al. 2016b)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Conv2d(cin, cout, 1, stride, bias=False)

    def forward(self, x):
        a = self.relu1(self.bn1(x))
        skip = x if self.shortcut is None else self.shortcut(a)
        return self.conv2(self.relu2(self.bn2(self.conv1(a)))) + skip


class ResNet18(nn.Module):
    """ResNet-18 layout [2,2,2,2] with widths 4w..32w; ``preact`` picks the block type and head.

    Post-activation (Liu): stem conv-BN-ReLU, blocks, pool, FC. Pre-activation (AWP/Rice): Normalize,
    stem conv, blocks, BN-ReLU, pool, FC.
    """

    def __init__(self, w, num_classes, in_channels, preact):
        super().__init__()
        block = PreActBlock if preact else BasicBlock
        self.normalize = Normalize(CIFAR10_MEAN, CIFAR10_STD) if preact else nn.Identity()
        self.conv1 = nn.Conv2d(in_channels, 4 * w, 3, 1, 1, bias=False)
        self.bn1 = nn.Identity() if preact else nn.BatchNorm2d(4 * w)
        self.relu1 = nn.Identity() if preact else nn.ReLU()
        cin, stages = 4 * w, []
        for i, cout in enumerate((4 * w, 8 * w, 16 * w, 32 * w)):
            stages.append(nn.Sequential(block(cin, cout, 1 if i == 0 else 2), block(cout, cout, 1)))
            cin = cout
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.bn_final = nn.BatchNorm2d(cin) if preact else nn.Identity()
        self.relu_final = nn.ReLU() if preact else nn.Identity()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.relu1(self.bn1(self.conv1(self.normalize(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.pool(self.relu_final(self.bn_final(x)))
        return self.fc(torch.flatten(x, 1))


def mlp(w, num_classes, in_channels, size):
    d = in_channels * size * size
    return nn.Sequential(OrderedDict([
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(d, 16 * w)), ("relu1", nn.ReLU()),
        ("fc2", nn.Linear(16 * w, 16 * w)), ("relu2", nn.ReLU()),
        ("fc3", nn.Linear(16 * w, num_classes)),
    ]))


def linear(w, num_classes, in_channels, size):
    return nn.Sequential(OrderedDict([
        ("flatten", nn.Flatten()), ("fc", nn.Linear(in_channels * size * size, num_classes)),
    ]))


MIN_SIZE = {"lenet": 4, "vgg": 32, "resnet18": 1, "preactresnet18": 1, "mlp": 1, "linear": 1}


def _positive_int(value, what, allowed):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be {allowed}, got {value!r}")
    return value


def build_model(name: str, *, width=None, num_classes: int = 10, in_channels=None, image_size=None) -> nn.Module:
    """A freshly initialised model (PyTorch default init) taking (N, in_channels, s, s) images in [0, 1].

    ``width`` defaults to DEFAULT_WIDTH[name]; ``in_channels`` and ``image_size`` default to the
    model's home dataset (lenet, mlp, linear: MNIST 1x28x28; vgg, resnets: CIFAR-10 3x32x32), and an
    ``in_channels`` matching a dataset implies that dataset's image size.
    """
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown model {name!r}; allowed: {', '.join(MODEL_NAMES)}")
    if name == "linear":
        if width is not None:
            raise ValueError(f"model 'linear' has no width; allowed: None, got {width!r}")
    else:
        width = _positive_int(DEFAULT_WIDTH[name] if width is None else width, "width",
                              f"a positive int for {name!r} (default {DEFAULT_WIDTH[name]})")
    _positive_int(num_classes, "num_classes", "a positive int")
    home = DATASET_INFO[HOME_DATASET[name]]
    in_channels = _positive_int(home["channels"] if in_channels is None else in_channels, "in_channels",
                                "a positive int")
    if name == "preactresnet18" and in_channels != 3:
        raise ValueError(f"preactresnet18 normalises with CIFAR-10 statistics; in_channels allowed: 3, got {in_channels}")
    if image_size is None:
        image_size = next((i["size"] for i in DATASET_INFO.values() if i["channels"] == in_channels), home["size"])
    _positive_int(image_size, "image_size", "a positive int")
    if image_size < MIN_SIZE[name]:
        raise ValueError(f"{name} needs image_size >= {MIN_SIZE[name]}, got {image_size}")
    if name in ("resnet18", "preactresnet18"):
        return ResNet18(width, num_classes, in_channels, preact=name == "preactresnet18")
    builder = {"lenet": lenet, "vgg": vgg, "mlp": mlp, "linear": linear}[name]
    return builder(width, num_classes, in_channels, image_size)
