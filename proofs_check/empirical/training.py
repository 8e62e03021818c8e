"""Compute a training unit (``runs``) in its work folder: train, stop at each snapshot epoch, measure, go on.

Work folder (the execution context's ``workdir``, the unit's own folder; a temporary one when None)::

    unit.json       the unit's parameters and the fingerprint of the code computing it (``jobs.fingerprint``)
    run/            the training run of ``empirical.train.loop.train``: config.json, checkpoint.pt, metrics.json
    measures.json   {"<epoch>": {"<label>": result}}, rewritten atomically after each measure

A unit killed while training resumes from the last epoch's checkpoint (the loop's resume gives the numbers of an
uninterrupted run); one killed while measuring keeps the measures already written and takes the others from the
checkpoint of that snapshot (training never passes a snapshot before its measures are all written). A folder
written by other code (another fingerprint) is started afresh; a folder of another unit is refused.
"""
from __future__ import annotations

import contextlib
import json
import pathlib
import shutil
import tempfile

from advland.empirical.train import checkpoint as ckpt
from advland.empirical.train.config import TrainConfig, resolve
from advland.empirical.train.loop import initial_model, load_data, train
from advland.io import dumps, write_json
from advland.options import resolve_device

from ..jobs.context import ExecutionContext
from .measurements import Subject, measure

STAMP, RUN, MEASURES = "unit.json", "run", "measures.json"


@contextlib.contextmanager
def work_folder(workdir):
    """The unit's folder: ``workdir`` (created), or a temporary folder removed afterwards."""
    if workdir is not None:
        folder = pathlib.Path(workdir)
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
        return
    with tempfile.TemporaryDirectory(prefix="advland-unit-") as tmp:
        yield pathlib.Path(tmp)


def claim_folder(folder: pathlib.Path, params: dict, code: str) -> None:
    """Stamp ``folder`` with the unit's parameters and code fingerprint; clear what other code left there;
    refuse a folder that holds another unit (ValueError)."""
    stamp = {"params": json.loads(dumps(params, sort_keys=True)), "code": code}
    path = folder / STAMP
    if path.is_file():
        old = ckpt.read_json(path)
        if old.get("params") != stamp["params"]:
            raise ValueError(f"work folder {folder} holds another unit of work ({STAMP} differs); give each unit "
                             "its own folder")
        if old.get("code") == stamp["code"]:
            return
    if (folder / RUN).exists():
        shutil.rmtree(folder / RUN)
    (folder / MEASURES).unlink(missing_ok=True)
    write_json(path, stamp)


class MeasureStore:
    """measures.json of the work folder: results by snapshot epoch and label."""

    def __init__(self, path: pathlib.Path):
        self.path = path
        self.doc = ckpt.read_json(path) if path.is_file() else {}

    def missing(self, epoch: int, specs: list[dict]) -> list[dict]:
        done = self.doc.get(str(epoch), {})
        return [m for m in specs if m["label"] not in done]

    def put(self, epoch: int, label: str, result: dict) -> None:
        self.doc.setdefault(str(epoch), {})[label] = json.loads(dumps(result))
        write_json(self.path, self.doc)


def epochs_done(run_dir: pathlib.Path) -> int:
    """Epochs in the run's checkpoint (0 before the first one)."""
    path = run_dir / ckpt.CHECKPOINT
    return int(ckpt.load_checkpoint(path)["epoch"]) + 1 if path.is_file() else 0


def run(params: dict, context: ExecutionContext, *, code: str) -> dict:
    """The results of ``runs``'s module docstring for resolved ``params``, computed under ``context``."""
    cfg = resolve(TrainConfig(**params["config"], data_dir=context.data_dir, device=resolve_device(context.device)))
    with work_folder(context.workdir) as folder:
        claim_folder(folder, params, code)
        data = load_data(cfg)
        model = initial_model(cfg)
        run_dir, store = folder / RUN, MeasureStore(folder / MEASURES)
        doc = None
        for epoch in params["snapshots"]:
            pending = store.missing(epoch, params["measures"])
            if not pending:
                continue
            done = epochs_done(run_dir)
            if done > epoch:
                raise RuntimeError(f"work folder {folder}: training is past epoch {epoch} but measures "
                                   f"{[m['label'] for m in pending]} of that snapshot are missing")
            doc = train(cfg, run_dir, data=data, model=model, stop_after=epoch - done)
            if doc["status"] == "diverged":
                break
            model.load_state_dict(ckpt.load_checkpoint(run_dir / ckpt.CHECKPOINT, device=cfg.device)["model"])
            subject = Subject(model, params["config"], data[:2], data[2:])
            for spec in pending:
                store.put(epoch, spec["label"], measure(subject, spec))
        if doc is None or doc["status"] != "diverged":
            doc = train(cfg, run_dir, data=data, model=model)
        return results(params, doc, store.doc)


def results(params: dict, doc: dict, measured: dict) -> dict:
    """The unit's results from the loop's metrics document and the stored measures."""
    if doc["status"] not in ("completed", "diverged"):
        raise RuntimeError(f"the training run ended with status {doc['status']!r}")
    history = [{k: v for k, v in r.items() if k != "batch_losses"} for r in doc["history"]]
    labels = [m["label"] for m in params["measures"]]
    measures = {str(e): {label: measured[str(e)][label] for label in labels if label in measured.get(str(e), {})}
                for e in params["snapshots"] if measured.get(str(e))}
    seconds = (sum(r["time_s"] for r in doc["history"])
               + sum(m["seconds"] for at in measures.values() for m in at.values()))
    return {"status": doc["status"], "config": params["config"], "snapshots": params["snapshots"],
            "history": history, "batch_losses": [v for r in doc["history"] for v in r.get("batch_losses", ())],
            "measures": measures, "diverged_at": doc.get("diverged_at"), "seconds": seconds}
