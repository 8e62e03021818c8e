"""The Hessian instrument: ∇²_θ L on a fixed data set, as a flat matvec, with its provenance.

``HessianOperator`` fixes everything that defines the matrix, and says so in ``describe()``:
  * the loss: 'clean', L(θ) = (1/N) Σ_i CE(f(x_i; θ), y_i), or 'adversarial (examples frozen at θ)',
    the same loss at x_i + δ_i with δ computed ONCE at θ by ``empirical.attacks.pgd`` (or given
    precomputed) and then held fixed. This is what Liu et al. call the Hessian of the adversarial
    loss (official code, util/hessian.py): it ignores the θ-dependence of δ*(θ) and is not
    the curvature of the (non-smooth) robust loss itself;
  * the parameter set: 'all' (Liu) or 'weights', tensors with ndim > 1 (Stutz, common/hessian.py);
  * the BatchNorm mode, explicit: 'eval' (running statistics, the default and what every peer
    reports) or 'train' (batch statistics of each batch of ``batch_size``);
  * the HVP route (``empirical.hvp``) and the batch size (which does not change L in eval mode).

Every forward pass runs inside ``state.preserved(model, bn_mode)``, so parameters, buffers (BN
running statistics included) and train flags are bit-exactly what they were after each call; the
HVPs write nothing into the model (``empirical.hvp``), so autograd graphs that other code holds over
it survive. A loss that is not finite at θ raises ``FloatingPointError`` when the operator is built.

Cost: with 'double_backward' the operator builds the first-order graph of all N examples once, when it
is built, and each matvec is then one backward pass through it (``hvp.RetainedGradient``), unless the
graph's saved tensors exceed ``memory_budget`` bytes: then each matvec rebuilds it batch by batch
(``hvp.hvp_double_backward``, about twice the cost). ``describe()['hvp_graph']`` says which.
"""
from __future__ import annotations

import functools

import torch
from torch import nn

from . import eigen
from ..attacks import adversarial_deltas, pgd
from ..core.batching import check_batch_size
from ..core.state import check_bn_mode, preserved
from ..core.params import select_params
from ..names import HESSIAN_PARAM_SETS
from .directions import normalize
from .hvp import HVP_FUNCTIONS, HVP_METHODS, RetainedGradient, loss_value

LOSS_KINDS = ("clean", "adversarial")
LOSS_LABELS = {"clean": "clean", "adversarial": "adversarial (examples frozen at θ)"}


def _check_data(x, y):
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise ValueError(f"x must be a floating-point tensor, got {type(x).__name__}")
    if not isinstance(y, torch.Tensor) or y.dtype != torch.int64 or y.ndim != 1:
        raise ValueError("y must be a 1-D int64 tensor of class labels")
    if x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise ValueError(f"x and y must hold the same number N >= 1 of examples, "
                         f"got {x.shape[0]} and {y.shape[0]}")


class HessianOperator:
    """Counted-by-the-solvers flat matvec v ↦ H v for the loss described in the module docstring.

    model: an nn.Module mapping x to logits. x, y: the fixed data set (all N examples are used).
    params: 'all' | 'weights'. bn_mode: 'eval' | 'train'. loss: 'clean' | 'adversarial'.
    For loss='adversarial' give exactly one of ``x_adv`` (precomputed adversarial inputs, same shape
    as x) or ``attack`` (keyword arguments of ``empirical.attacks.pgd``, eps required), run once in
    batches of ``batch_size`` with BN mode ``attack_bn_mode`` (default: ``bn_mode``) and a generator
    seeded with ``seed``. method: 'double_backward' (default: the faster route, bench/bench_hessian.py) |
    'forward_over_reverse'. memory_budget: bytes the retained graph of 'double_backward' may hold
    (module docstring; 0 never retains it).
    """

    def __init__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, params: str = "all",
                 bn_mode: str = "eval", loss: str = "clean", x_adv: torch.Tensor | None = None,
                 attack: dict | None = None, attack_bn_mode: str | None = None,
                 method: str = "double_backward", batch_size: int = 500, seed: int = 0,
                 memory_budget: int = 2 * 2**30):
        _check_data(x, y)
        self.bn_mode = check_bn_mode(bn_mode)
        if loss not in LOSS_KINDS:
            raise ValueError(f"loss must be one of {LOSS_KINDS}, got {loss!r}")
        if method not in HVP_METHODS:
            raise ValueError(f"method must be one of {HVP_METHODS}, got {method!r}")
        self.batch_size = check_batch_size(batch_size)
        if isinstance(memory_budget, bool) or not isinstance(memory_budget, int) or memory_budget < 0:
            raise ValueError(f"memory_budget must be an int >= 0 (bytes), got {memory_budget!r}")
        self.memory_budget = memory_budget
        self.model, self.method, self.loss_kind, self.param_set = model, method, loss, params
        self.params = select_params(model, params, sets=HESSIAN_PARAM_SETS)
        dtypes = {p.dtype for _, p in self.params}
        if len(dtypes) != 1:
            raise ValueError(f"all selected parameters must share one dtype, got {sorted(map(str, dtypes))}")
        self.like = self.params[0][1].detach()
        self.shapes = [p.shape for _, p in self.params]
        self.dim = sum(p.numel() for _, p in self.params)
        self.y = y.to(self.like.device)
        self.adversarial = self._adversarial_provenance(loss, x_adv, attack, attack_bn_mode)
        x = x.to(self.like.device)
        if loss == "clean":
            self.x = x
        elif x_adv is not None:
            if x_adv.shape != x.shape:
                raise ValueError(f"x_adv must have the shape of x {tuple(x.shape)}, got {tuple(x_adv.shape)}")
            self.x = x_adv.detach().to(self.like.device)
        else:
            self.x = self._attack(x, attack, self.adversarial["attack_bn_mode"], seed)
        self.retained = None
        with preserved(model, self.bn_mode):
            if method == "double_backward":
                self.retained = RetainedGradient.build(model, self.params, self.x, self.y, self.batch_size,
                                                       memory_budget)
            self.loss_value = (self.retained.loss if self.retained is not None
                               else loss_value(model, self.x, self.y, self.batch_size).item())
        if not torch.isfinite(torch.tensor(self.loss_value)):
            raise FloatingPointError(f"the {LOSS_LABELS[loss]} loss at θ is {self.loss_value}: "
                                     "the Hessian is undefined (check the weights and inputs)")

    def _adversarial_provenance(self, loss, x_adv, attack, attack_bn_mode):
        if loss == "clean":
            if x_adv is not None or attack is not None or attack_bn_mode is not None:
                raise ValueError("x_adv, attack and attack_bn_mode apply only to loss='adversarial'")
            return None
        if (x_adv is None) == (attack is None):
            raise ValueError("loss='adversarial' needs exactly one of x_adv (precomputed) "
                             "or attack (dict of empirical.attacks.pgd keyword arguments)")
        if x_adv is not None:
            if attack_bn_mode is not None:
                raise ValueError("attack_bn_mode applies only when the attack is run here")
            return {"source": "precomputed"}
        if not isinstance(attack, dict) or "eps" not in attack:
            raise ValueError(f"attack must be a dict of pgd keyword arguments with 'eps', got {attack!r}")
        mode = check_bn_mode(self.bn_mode if attack_bn_mode is None else attack_bn_mode)
        return {"source": "pgd", "attack": dict(attack), "attack_bn_mode": mode}

    def _attack(self, x, attack, mode, seed):
        with preserved(self.model, mode):
            return x + adversarial_deltas(self.model, x, self.y, functools.partial(pgd, **attack), seed=seed,
                                          batch_size=self.batch_size)

    def unflatten(self, v: torch.Tensor) -> list[torch.Tensor]:
        """A flat vector of length ``dim`` as a list of tensors shaped like the selected parameters."""
        return [t.view(s) for t, s in zip(torch.split(v, [s.numel() for s in self.shapes]), self.shapes)]

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        if v.shape != (self.dim,):
            raise ValueError(f"v must be a flat vector of length {self.dim}, got shape {tuple(v.shape)}")
        v = v.to(device=self.like.device, dtype=self.like.dtype)
        if self.retained is not None:
            hv = self.retained.hvp(self.unflatten(v))
        else:
            with preserved(self.model, self.bn_mode):
                hv = HVP_FUNCTIONS[self.method](self.model, self.params, self.x, self.y,
                                                self.unflatten(v), self.batch_size)
        return torch.cat([h.reshape(-1) for h in hv])

    def describe(self) -> dict:
        """What this Hessian is: loss kind, BN mode, parameter set, data, HVP route (JSON-ready)."""
        return {"loss": LOSS_LABELS[self.loss_kind], "adversarial_examples": self.adversarial,
                "bn_mode": self.bn_mode, "params": self.param_set,
                "param_names": [n for n, _ in self.params], "dim": self.dim,
                "n_examples": int(self.y.shape[0]), "batch_size": self.batch_size,
                "hvp_method": self.method, "hvp_graph": self._graph_description(),
                "dtype": str(self.like.dtype), "loss_value": self.loss_value}

    def _graph_description(self) -> dict:
        if self.method != "double_backward":
            return {"retained": False, "reason": "forward_over_reverse recomputes per matvec"}
        if self.retained is None:
            return {"retained": False, "reason": "saved tensors exceed memory_budget: recomputed per matvec",
                    "memory_budget": self.memory_budget}
        return {"retained": True, "saved_bytes": self.retained.saved_bytes, "memory_budget": self.memory_budget}

    def _solver_args(self, seed):
        return {"generator": torch.Generator().manual_seed(seed), "like": self.like}

    def lanczos(self, *, k: int = 1, which: str = "LA", tol: float = 1e-4,
                max_iter: int | None = None, seed: int = 0) -> eigen.EigenResult:
        return eigen.lanczos(self.matvec, self.dim, k=k, which=which, tol=tol, max_iter=max_iter,
                             **self._solver_args(seed))

    def power_iteration(self, *, k: int = 1, max_iter: int = 50, tol: float = 1e-3,
                        seed: int = 0) -> eigen.EigenResult:
        return eigen.power_iteration(self.matvec, self.dim, k=k, max_iter=max_iter, tol=tol,
                                     **self._solver_args(seed))

    def hutchinson_trace(self, *, num_samples: int = 100, seed: int = 0) -> eigen.TraceResult:
        return eigen.hutchinson_trace(self.matvec, self.dim, num_samples=num_samples,
                                      **self._solver_args(seed))

    def report(self, result) -> dict:
        """JSON-ready record of a solver result with this operator's provenance attached."""
        return {"hessian": self.describe(), "result": result.to_json()}


def top_eigenvector(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, params: str = "all",
                    bn_mode: str = "eval", tol: float = 1e-4, max_iter: int | None = None,
                    seed: int = 0, **operator_kwargs):
    """Largest ALGEBRAIC Hessian eigenpair by Lanczos -> (eigenvalue, vectors shaped like the
    parameters, info). ``info`` is ``HessianOperator.report``: check ``info['result']['converged']``."""
    op = HessianOperator(model, x, y, params=params, bn_mode=bn_mode, seed=seed, **operator_kwargs)
    result = op.lanczos(k=1, which="LA", tol=tol, max_iter=max_iter, seed=seed)
    pair = result.pairs[0]
    return pair.value, op.unflatten(pair.vector), op.report(result)


def top_eigen_direction(model: nn.Module, x, y, *, params: str = "all", bn_mode: str = "eval", **kw):
    """Unit top eigenvector of the Hessian of the mean CE (``top_eigenvector``; ``kw``
    go to it, e.g. ``loss='adversarial', x_adv=...`` for examples frozen at theta).

    Returns ``(eigenvalue, direction, info, named_params)``: the direction has global L2 norm 1 and is
    aligned with ``named_params = select_params(model, params)``; ``info['result']['converged']`` flags the solve.
    """
    from .hessian import top_eigenvector

    value, vec, info = top_eigenvector(model, x, y, params=params, bn_mode=bn_mode, **kw)
    named = select_params(model, params)
    return float(value), normalize([v.detach() for v in vec], named, "unit"), info, named
