"""core.params: the parameter sets by their documented rules, on every model of the zoo."""
import pytest
import torch
from torch import nn

from advland.empirical.core.params import PARAM_SETS, normalization_param_names, select_params
from advland.empirical.models import MODEL_NAMES, build_model
from advland.empirical.names import HESSIAN_PARAM_SETS


def zoo():
    torch.manual_seed(0)
    return {name: build_model(name, width=None if name == "linear" else 1) for name in MODEL_NAMES}


def test_sets_follow_their_rules_on_every_model():
    for name, model in zoo().items():
        named = list(model.named_parameters())
        norm = normalization_param_names(model)
        assert [n for n, _ in select_params(model, "all")] == [n for n, _ in named]
        assert [n for n, _ in select_params(model, "weights")] == [n for n, p in named if p.ndim > 1]
        assert [n for n, _ in select_params(model, "no-norm")] == [n for n, _ in named if n not in norm]
        # AWP (Wu et al., utils_awp.py) perturbs the tensors with ndim > 1 named '*weight*': the same set
        awp = [n for n, p in named if p.ndim > 1 and "weight" in n]
        assert [n for n, _ in select_params(model, "weights")] == awp
        assert all(isinstance(model.get_submodule(n.rpartition(".")[0]), nn.BatchNorm2d) for n in norm)
        assert (name in ("vgg", "resnet18", "preactresnet18")) == bool(norm), name


def test_frozen_parameters_are_never_selected():
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 2))
    model[0].weight.requires_grad_(False)
    assert [n for n, _ in select_params(model, "all")] == ["0.bias", "1.weight", "1.bias", "2.weight", "2.bias"]
    assert [n for n, _ in select_params(model, "weights")] == ["2.weight"]
    assert [n for n, _ in select_params(model, "no-norm")] == ["0.bias", "2.weight", "2.bias"]


def test_bad_set_names_and_empty_sets_are_value_errors():
    model = nn.Linear(3, 2)
    for bad in ("biases", "", None):
        with pytest.raises(ValueError, match="params must be one of"):
            select_params(model, bad)
    with pytest.raises(ValueError, match="params must be one of"):
        select_params(model, "no-norm", sets=HESSIAN_PARAM_SETS)
    assert set(HESSIAN_PARAM_SETS) <= set(PARAM_SETS)
    with pytest.raises(ValueError, match="matches no"):
        select_params(nn.BatchNorm1d(3), "no-norm")
    with pytest.raises(ValueError, match="matches no"):
        select_params(nn.BatchNorm1d(3), "weights")
