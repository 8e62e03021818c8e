"""``advland data check`` and ``advland data fetch``: the data sets' files, their checksums, and where each goes.

``check`` lists, for every split of each data set, the file layouts the loader accepts (``empirical.data``): each
file present and verified against its known checksum, corrupt, or missing, with the path it is expected at, its
checksum and where to download it by hand. Exit status 0 when every split of every data set asked for has a
complete verified layout, 1 otherwise. ``fetch`` downloads what is missing (``empirical.data.download``: the
public mirrors, every file verified), then checks; a failed download (offline) is a usage error saying how to
put the files in place by hand.
"""
from __future__ import annotations

import dataclasses

from advland.empirical.names import DATASET_INFO
from advland.errors import UsageError
from advland.options import data_dir_option, from_args, option

EXIT_OK, EXIT_INCOMPLETE = 0, 1


@dataclasses.dataclass(kw_only=True)
class DataOptions:
    dataset: list[str] = option(list(DATASET_INFO), "data sets", choices=tuple(DATASET_INFO))
    data_dir: str | None = data_dir_option()


def by_hand(dataset: str, root) -> str:
    """Where to get the files of ``dataset`` without advland, and where they go under ``root``."""
    from advland.empirical.data import CHECKSUMS, CIFAR10_ARCHIVE, CIFAR10_MIRRORS, MNIST_MIRRORS

    if dataset == "mnist":
        return (f"by hand: download the four .gz files from {MNIST_MIRRORS[0]} (or {MNIST_MIRRORS[1]}) into "
                f"{root / 'mnist'}/, keeping their names and leaving them compressed")
    algo, digest = CHECKSUMS[CIFAR10_ARCHIVE]
    return (f"by hand: download {CIFAR10_MIRRORS[0]}{CIFAR10_ARCHIVE} ({algo} {digest}) and unpack it in {root} "
            "(tar xzf: it makes cifar-10-batches-py/)")


def check_lines(dataset: str, data_dir) -> tuple[bool, list[str]]:
    """(whether every split of ``dataset`` has a complete verified layout, the lines that say so file by file)."""
    from advland.empirical.data import SPLITS, file_status, resolve_data_dir

    root = resolve_data_dir(data_dir)
    rows = file_status(dataset, data_dir)
    complete = {split: any(all(r["state"] == "ok" for r in rows if (r["split"], r["layout"]) == (split, i))
                           for i in {r["layout"] for r in rows if r["split"] == split}) for split in SPLITS}
    ok = all(complete.values())
    lines = [f"{dataset} under {root}: {'complete, every file verified' if ok else 'INCOMPLETE'}"]
    for split in SPLITS:
        layouts = sorted({r["layout"] for r in rows if r["split"] == split})
        lines.append(f"  {split}: {'ok' if complete[split] else 'no complete layout'}"
                     + (f" (any one of {len(layouts)} layouts)" if len(layouts) > 1 else ""))
        for i in layouts:
            if i:
                lines.append("    or")
            lines += [f"    [{r['state']:>7}] {r['path']}  {r['algo']} {r['digest']}"
                      for r in rows if (r["split"], r["layout"]) == (split, i)]
    if not ok:
        lines.append(f"  fetch: advland data fetch --dataset {dataset} --data-dir {root}")
        lines.append(f"  {by_hand(dataset, root)}")
    return ok, lines


def data_handler(args) -> int:
    from advland.console import say
    from advland.empirical.data import DataError, download, resolve_data_dir

    opts = from_args(args, DataOptions)
    if args.action == "fetch":
        for dataset in opts.dataset:
            root = resolve_data_dir(opts.data_dir)
            try:
                download(dataset, opts.data_dir)
            except DataError as err:
                reasons = [line.strip() for line in str(err).splitlines()[1:] if "://" in line][:3]
                raise UsageError(f"could not download {dataset} into {root} ({'; '.join(reasons) or err}); "
                                 f"{by_hand(dataset, root)}; then advland data check --dataset {dataset} "
                                 f"--data-dir {root}") from None
    complete = True
    for dataset in opts.dataset:
        ok, lines = check_lines(dataset, opts.data_dir)
        complete &= ok
        for line in lines:
            say(line, indent="        ")
    return EXIT_OK if complete else EXIT_INCOMPLETE
