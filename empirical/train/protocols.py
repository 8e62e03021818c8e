"""Training-attack protocols: our choices, or those of a paper's official code, at the three points where the
training attack deliberately differs from the official code bases (docs/deviations.md has every difference).

* ``attack_iterate``, the perturbation the model is trained on: 'best', the evaluated iterate of highest attack
  loss (ours: the attack evaluates every iterate anyway, and the inner problem of Madry et al. 2018, eq. 2.1, is a
  maximum); 'last', the last iterate, as in every official training code below.
* ``random_start``, the start of PGD-AT and AT-AWP (TRADES always starts at x + 0.001 N(0, I), Zhang et al. 2019
  ``trades.py``): 'eps', uniform in the eps-ball (ours and AWP's ``AT_AWP/train_cifar10.py`` ``attack_pgd``, after
  Madry et al.); 'step', uniform in [-step, step]^d, then projected (Liu et al. 2020, ``util/attack.py``
  ``PGD.attack``).
* BatchNorm during the training attack: ``bn_attack`` 'eval' (running statistics) or 'train' (batch statistics),
  and ``attack_bn_stats`` 'restore' (ours: the attack leaves the running statistics as they were) or 'keep' (AWP's
  ``AT_AWP/train_cifar10.py``: the model stays in train mode while ``attack_pgd`` runs, so the attack's forward
  passes update the running statistics).

The protocols (``PROTOCOLS``), each for the methods its code trains (``clean`` has no attack and takes any):

=========  ==========================  ==========  ============  =========  ===============
protocol   methods                     iterate     start         BN         statistics
=========  ==========================  ==========  ============  =========  ===============
advland    all                         best        eps           eval       restore
awp        at, awp                     last        eps           train      keep
awp        trades, trades-awp          last        (TRADES')     eval       restore
liu        at                          last        step          eval       restore
trades     trades                      last        (TRADES')     eval       restore
=========  ==========================  ==========  ============  =========  ===============

Sources: github.com/csdongxian/AWP ``AT_AWP/train_cifar10.py`` (at with ``--awp-gamma 0`` is Rice et al.'s AT)
and ``trades_AWP/train_trades_cifar.py`` (``perturb_input`` calls ``model.eval()``); github.com/liuchen11/
AdversaryLossLandscape ``util/train.py`` (``vanilla_train``: ``model.eval()`` around ``attacker.attack``) and
``util/attack.py``; github.com/yaodongyu/TRADES ``trades.py`` (``trades_loss``: ``model.eval()``).
"""
from __future__ import annotations

PROTOCOLS = ("advland", "awp", "liu", "trades")
RANDOM_STARTS = ("eps", "step")
BN_STATS = ("restore", "keep")
PGD_METHODS = ("at", "awp")            # the methods whose attack is PGD from a random start
TRADES_METHODS = ("trades", "trades-awp")

_OURS = {"attack_iterate": "best", "bn_attack": "eval", "attack_bn_stats": "restore"}
_LAST_EVAL = {"attack_iterate": "last", "bn_attack": "eval", "attack_bn_stats": "restore"}
_LAST_TRAIN_KEEP = {"attack_iterate": "last", "bn_attack": "train", "attack_bn_stats": "keep"}
_VALUES = {
    "advland": {m: _OURS for m in PGD_METHODS + TRADES_METHODS},
    "awp": {"at": _LAST_TRAIN_KEEP, "awp": _LAST_TRAIN_KEEP, "trades": _LAST_EVAL, "trades-awp": _LAST_EVAL},
    "liu": {"at": _LAST_EVAL},
    "trades": {"trades": _LAST_EVAL},
}
_STARTS = {"advland": "eps", "awp": "eps", "liu": "step"}   # of the protocols that train a PGD method


def protocol_values(protocol: str, method: str) -> dict:
    """The values of ``attack_iterate``, ``random_start`` (None where the method has no PGD start),
    ``bn_attack`` and ``attack_bn_stats`` under ``protocol`` for ``method`` (module docstring). ValueError for a
    protocol whose code does not train that method."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if method == "clean":
        return {**_OURS, "random_start": None}
    values = _VALUES[protocol].get(method)
    if values is None:
        raise ValueError(f"protocol {protocol!r}: the official code trains {', '.join(_VALUES[protocol])} only, "
                         f"not {method!r} (docs/deviations.md)")
    return {**values, "random_start": _STARTS[protocol] if method in PGD_METHODS else None}
