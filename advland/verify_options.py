"""The options of ``advland verify``, which ``pytest --advland`` takes too: apart from the claims so that reading
them imports neither the claims nor numpy (pytest loads the plugin, and with it these options, at every start)."""
from __future__ import annotations

import dataclasses
import os

from .options import data_dir_option, device_option, option, overwrite_option, seed_option

SCALES = ("smoke", "cpu", "gpu", "paper")


@dataclasses.dataclass(kw_only=True)
class ClaimsOptions:
    claims: list[str] = option([], "also load the claims of a Python file declaring them with "
                                   "@advland.claims.claim (repeatable)", metavar="FILE")


@dataclasses.dataclass(kw_only=True)
class VerifyOptions(ClaimsOptions):
    only: list[str] = option([], "claim id, glob (liu2020.*) or tag (theory, a paper key such as liu2020; "
                                 "advland list shows every tag); default: all", metavar="SELECTOR")
    scale: str = option("cpu", "experiment size (cpu: minutes on a 2-core machine; gpu and paper need CUDA)",
                        choices=SCALES)
    out: str = option("advland-report", "report folder: created, or replaced when it holds a report of advland",
                      metavar="DIR")
    overwrite: bool = overwrite_option("replace --out even when it is a file or holds files advland did not write "
                                       "(they are deleted once the new report is in place)")
    seed: int = seed_option()
    data_dir: str | None = data_dir_option()
    device: str = device_option("auto")
    fail_on_refuted: bool = option(False, "exit 1 when a claim is refuted (for CI gates)")
    progress: bool = option(True, "progress bar")
    store: str | None = option(None, "results store: finished units are reused, an interrupted run resumes "
                                     "(default $ADVLAND_STORE, then ~/.cache/advland/store.sqlite)", metavar="FILE")
    jobs: int = option(min(2, os.cpu_count() or 1), "units computed at once, each in its own process with "
                                                    "cores/jobs threads", minimum=1, metavar="N")
    units_dir: str | None = option(None, "the units' folders (checkpoints; with slurm and ray shared with the "
                                         "workers; default: STORE-units/ beside the store)", metavar="DIR")
