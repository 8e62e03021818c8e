"""Datasets (MNIST, CIFAR-10) from local files, verified; subsets, tensors, augmentation (batches:
``empirical.core.batching``).

Layout under the data directory (``resolve_data_dir``: argument, then ``$ADVLAND_DATA``, then
``~/.cache/advland/data``):

* MNIST: ``mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz``, the standard IDX files
  (LeCun et al. 1998), parsed here (magic number, dimensions, payload length all checked).
* CIFAR-10 (Krizhevsky 2009), either layout:
  ``cifar10/cifar10_train_part{1..5}.npz`` + ``cifar10/cifar10_test.npz`` (uint8 NHWC arrays, loaded with
  ``allow_pickle=False``), or the python batches as distributed, ``cifar-10-batches-py/data_batch_{1..5}``
  + ``test_batch``, read with a restricted unpickler that can build numpy arrays and nothing else.

Every file has a known digest (sha256 from the shared data README for the MNIST ``.gz`` and the npz
arrays; md5 as published with the CIFAR-10 python archive, the same values torchvision checks) and is
verified before it is parsed. Digests are cached in memory per (path, size, mtime).

Augmentation follows the standard CIFAR recipe used by Liu et al. (2020) and Wu et al. (2020):
zero-pad 4, random 32x32 crop, horizontal flip with probability 1/2; here batched on the device.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import pickle
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from advland.errors import UsageError
from advland.io import atomic_write
from advland.seeding import numpy_rng

from .names import DATASET_INFO, SPLITS

SUBSET_STREAM = "data/balanced-subset"
ENV_VAR = "ADVLAND_DATA"
DEFAULT_DATA_DIR = Path("~/.cache/advland/data")

# Relative paths of each layout: (images, labels) for MNIST, one file per chunk for CIFAR-10.
MNIST_FILES = {
    "train": ("mnist/train-images-idx3-ubyte.gz", "mnist/train-labels-idx1-ubyte.gz"),
    "test": ("mnist/t10k-images-idx3-ubyte.gz", "mnist/t10k-labels-idx1-ubyte.gz"),
}
CIFAR_NPZ_FILES = {
    "train": tuple(f"cifar10/cifar10_train_part{k}.npz" for k in range(1, 6)),
    "test": ("cifar10/cifar10_test.npz",),
}
CIFAR_PICKLE_DIR = "cifar-10-batches-py"
CIFAR_PICKLE_FILES = {
    "train": tuple(f"{CIFAR_PICKLE_DIR}/data_batch_{k}" for k in range(1, 6)),
    "test": (f"{CIFAR_PICKLE_DIR}/test_batch",),
}

CHECKSUMS = {
    "mnist/train-images-idx3-ubyte.gz": ("sha256", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    "mnist/train-labels-idx1-ubyte.gz": ("sha256", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    "mnist/t10k-images-idx3-ubyte.gz": ("sha256", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    "mnist/t10k-labels-idx1-ubyte.gz": ("sha256", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
    "cifar10/cifar10_train_part1.npz": ("sha256", "cd9f40d068f31a48213a1abee6731a540b07006e7e159430814785cec77cb1ef"),
    "cifar10/cifar10_train_part2.npz": ("sha256", "0b2b7777c136bd1b437a274e001a3b5ccbf6ce33e3b22a1d3ddd0492bd821879"),
    "cifar10/cifar10_train_part3.npz": ("sha256", "1f063cde85960d3c7275eb4cf563d31fff2af6a5e47bd69f10af0038e3b16951"),
    "cifar10/cifar10_train_part4.npz": ("sha256", "9c19b4446b9c089665f5911793ed3e0eb1dc8151cb7fdb045db1511ab3b0a814"),
    "cifar10/cifar10_train_part5.npz": ("sha256", "21a31cd5d611cca8873fb47c1bef3c3f9c4d3e41e4bc68cdf0ce2f94b0fcda4e"),
    "cifar10/cifar10_test.npz": ("sha256", "db416ae49abad84f07becad2bf4d66130b970f92f3efde766a31b4a32a0abe7a"),
    "cifar-10-batches-py/data_batch_1": ("md5", "c99cafc152244af753f735de768cd75f"),
    "cifar-10-batches-py/data_batch_2": ("md5", "d4bba439e000b95fd0a9bffe97cbabec"),
    "cifar-10-batches-py/data_batch_3": ("md5", "54ebc095f3ab1f0389bbae665268c751"),
    "cifar-10-batches-py/data_batch_4": ("md5", "634d18415352ddfa80567beed471001a"),
    "cifar-10-batches-py/data_batch_5": ("md5", "482c414d41f54cd18b22e5b47cb7c3cb"),
    "cifar-10-batches-py/test_batch": ("md5", "40351d587109b95175f43aff81a1287e"),
    "cifar-10-python.tar.gz": ("md5", "c58f30108f718f92721af3b95e74349a"),
}

# Public mirrors (the ones torchvision uses, plus Google's CVDF copy); file names are appended.
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
CIFAR10_MIRRORS = ("https://www.cs.toronto.edu/~kriz/",)
CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"

IDX_MAGIC = {"images": 2051, "labels": 2049}


class DataError(UsageError):
    """A dataset file is missing, corrupt or malformed; the message says what is expected where."""


# ---------------------------------------------------------------- locations and messages

def resolve_data_dir(data_dir=None) -> Path:
    """The data directory: ``data_dir`` if given, else ``$ADVLAND_DATA`` if set, else ~/.cache/advland/data."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return DEFAULT_DATA_DIR.expanduser()


def _check_name(dataset, split=None):
    if dataset not in DATASET_INFO:
        raise ValueError(f"dataset must be one of {tuple(DATASET_INFO)}, got {dataset!r}")
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def _layouts(dataset, split):
    """The accepted file layouts for (dataset, split): list of tuples of relative paths."""
    if dataset == "mnist":
        return [MNIST_FILES[split]]
    return [CIFAR_NPZ_FILES[split], CIFAR_PICKLE_FILES[split]]


def _expected_message(dataset, splits, root: Path) -> str:
    lines = []
    for split in splits:
        layouts = _layouts(dataset, split)
        lines.append(f"{dataset} {split} split expects" + (" either" if len(layouts) > 1 else ""))
        for i, layout in enumerate(layouts):
            if i:
                lines.append("  or")
            for rel in layout:
                path = root / rel
                lines.append(f"    {path}  [{'present' if path.is_file() else 'missing'}]")
    lines.append(f"Point advland at the folder holding these files with --data-dir DIR or {ENV_VAR}=DIR (now {root}).")
    lines.append(f"fix: advland data fetch --dataset {dataset} --data-dir {root}   (offline: advland data check "
                 f"--dataset {dataset} --data-dir {root} says where each file comes from)")
    return "\n".join(lines)


def file_status(dataset: str, data_dir=None) -> list[dict]:
    """Every file of every accepted layout of ``dataset``, one dict each: ``split``, ``layout`` (its index among
    the split's layouts), ``rel``, ``path``, ``algo`` and ``digest`` (the known checksum) and ``state``: 'ok'
    (present, digest verified), 'corrupt' (present, another digest) or 'missing'."""
    _check_name(dataset)
    root = resolve_data_dir(data_dir)
    rows = []
    for split in SPLITS:
        for i, layout in enumerate(_layouts(dataset, split)):
            for rel in layout:
                algo, digest = CHECKSUMS[rel]
                path = root / rel
                state = ("missing" if not path.is_file() else
                         "ok" if file_digest(path, algo) == digest else "corrupt")
                rows.append({"split": split, "layout": i, "rel": rel, "path": path, "algo": algo, "digest": digest,
                             "state": state})
    return rows


# ---------------------------------------------------------------- checksums

_DIGEST_CACHE: dict = {}


def file_digest(path, algo: str) -> str:
    """Hex digest of a file, cached in memory per (path, size, mtime_ns, algo)."""
    path = Path(path)
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, algo)
    if key not in _DIGEST_CACHE:
        h = hashlib.new(algo)
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _DIGEST_CACHE[key] = h.hexdigest()
    return _DIGEST_CACHE[key]


def verify_file(path, rel: str) -> None:
    """Raise DataError if ``path`` does not have the known digest of the file ``rel`` (a key of CHECKSUMS)."""
    algo, expected = CHECKSUMS[rel]
    actual = file_digest(path, algo)
    if actual != expected:
        raise DataError(f"checksum mismatch: {path} has {algo} {actual}, expected {expected} (corrupt or truncated)")


# ---------------------------------------------------------------- parsers

def read_idx(path) -> np.ndarray:
    """Parse a gzipped IDX file of unsigned bytes (LeCun's format).

    Header: two zero bytes, type code 0x08 (ubyte), number of dimensions n, then n big-endian uint32
    sizes; the payload must hold exactly their product in bytes. Magic = 0x0800 + n (2049 labels, 2051 images).
    """
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: not a readable gzip file ({e})") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path}: not an unsigned-byte IDX file (header {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if len(raw) - header != int(np.prod(shape)):
        raise DataError(f"{path}: IDX payload has {len(raw) - header} bytes, header {shape} needs {int(np.prod(shape))}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape).copy()


def _latin1_encode(text, encoding="latin1"):
    """Stand-in for ``_codecs.encode`` in protocol-2 pickles of bytes; only latin-1 is accepted."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"refusing _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


def _numpy_reconstruct():
    core = getattr(np, "_core", None)
    return (core.multiarray if core is not None else np.core.multiarray)._reconstruct


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals needed to rebuild plain numpy arrays."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
        ("numpy", "ndarray"): lambda: np.ndarray,
        ("numpy", "dtype"): lambda: np.dtype,
        ("_codecs", "encode"): lambda: _latin1_encode,
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR-10 batch")
        return self.ALLOWED[(module, name)]()


def read_cifar_batch(path):
    """One CIFAR-10 python batch -> (x uint8 (N,32,32,3), y int64 (N,)).

    Genuine layout (Krizhevsky 2009): a pickled dict with ``data`` uint8 (N, 3072), each row 1024 red,
    then 1024 green, then 1024 blue values in row-major 32x32 order, and ``labels`` a list of N ints.
    Python-2 strings are read as latin-1, which numpy requires for its py2 array pickles.
    """
    try:
        with open(path, "rb") as f:
            obj = _ArrayUnpickler(f, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as e:
        raise DataError(f"{path}: not a valid CIFAR-10 batch ({e})") from e
    if not isinstance(obj, dict):
        raise DataError(f"{path}: CIFAR-10 batch must hold a dict, found {type(obj).__name__}")
    obj = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}
    data, labels = obj.get("data"), obj.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(f"{path}: 'data' must be a uint8 array of shape (N, 3072)")
    y = np.asarray(labels, dtype=np.int64)
    if y.shape != (data.shape[0],):
        raise DataError(f"{path}: {len(y)} labels for {data.shape[0]} images")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy(), y


def _read_npz(path, split):
    try:
        with np.load(path, allow_pickle=False) as z:
            return z[f"x_{split}"], z[f"y_{split}"].astype(np.int64)
    except (OSError, KeyError, ValueError, zlib.error) as e:
        raise DataError(f"{path}: not a valid CIFAR-10 npz with x_{split}/y_{split} ({e})") from e


# ---------------------------------------------------------------- arrays

def find_layout(dataset: str, split: str, data_dir=None) -> tuple[Path, tuple[str, ...]]:
    """(data directory, relative paths of the first complete layout of the split); DataError naming every
    expected file when no layout is complete (a presence check only: digests are verified on loading)."""
    _check_name(dataset, split)
    root = resolve_data_dir(data_dir)
    layout = next((lay for lay in _layouts(dataset, split) if all((root / r).is_file() for r in lay)), None)
    if layout is None:
        raise DataError(f"{dataset} {split} data not found under {root}.\n" + _expected_message(dataset, [split], root))
    return root, layout


def load_arrays(dataset: str, split: str, data_dir=None):
    """Whole split as numpy: x uint8 (N, H, W, C), y int64 (N,); files verified against known digests."""
    root, layout = find_layout(dataset, split, data_dir)
    try:
        for rel in layout:
            verify_file(root / rel, rel)
        if dataset == "mnist":
            x, y = read_idx(root / layout[0])[..., None], read_idx(root / layout[1]).astype(np.int64)
        else:
            read = (lambda p: _read_npz(p, split)) if layout[0].endswith(".npz") else read_cifar_batch
            parts = [read(root / rel) for rel in layout]
            x, y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        _check_arrays(dataset, split, x, y)
    except DataError as e:
        raise DataError(f"{e}\n" + _expected_message(dataset, [split], root)) from e
    return x, y


def _check_arrays(dataset, split, x, y):
    info = DATASET_INFO[dataset]
    shape = (info["split_sizes"][split], info["size"], info["size"], info["channels"])
    if x.shape != shape or x.dtype != np.uint8:
        raise DataError(f"{dataset} {split}: images are {x.dtype} {x.shape}, expected uint8 {shape}")
    if y.shape != shape[:1] or y.min() < 0 or y.max() >= info["num_classes"]:
        raise DataError(f"{dataset} {split}: labels must be {shape[0]} ints in [0, {info['num_classes']})")


def balanced_subset(y, n: int, seed: int) -> np.ndarray:
    """Sorted int64 indices of ``n`` examples, class-balanced and deterministic in ``seed``.

    With K classes present, every class contributes n // K examples and the n % K lowest labels one
    more. Class c's examples are a prefix of one permutation of its indices, drawn in label order from the
    random stream ``(seed, "data/balanced-subset")`` (``advland.seeding``), so for a fixed seed the subsets
    are nested in n.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    classes = np.unique(y)
    counts = np.full(len(classes), n // len(classes))
    counts[: n % len(classes)] += 1
    rng = numpy_rng(seed, SUBSET_STREAM)
    chosen = []
    for c, k in zip(classes, counts):
        members = np.flatnonzero(y == c)
        if k > len(members):
            raise ValueError(f"n={n} needs {k} examples of class {c}, only {len(members)} available")
        chosen.append(rng.permutation(members)[:k])
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def load_tensors(dataset: str, split: str, data_dir=None, subset=None, seed: int = 0, device="cpu"):
    """(x float32 (N, C, H, W) in [0, 1] = pixel / 255, y int64) on ``device``; ``subset`` = n for balanced_subset."""
    x, y = load_arrays(dataset, split, data_dir)
    if subset is not None:
        idx = balanced_subset(y, subset, seed)
        x, y = x[idx], y[idx]
    xt = torch.from_numpy(np.ascontiguousarray(x)).to(device).permute(0, 3, 1, 2).float().div_(255.0)
    return xt.contiguous(), torch.from_numpy(y).to(device)


# ---------------------------------------------------------------- augmentation

def _check_generator(generator, device):
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    if generator.device.type != torch.device(device).type:
        raise ValueError(f"generator is on {generator.device}, data on {device}; create it with device={device!r}")


def random_crop_flip(x: torch.Tensor, generator: torch.Generator, padding: int = 4) -> torch.Tensor:
    """Zero-pad each image by ``padding``, crop back to H x W at a random offset, flip half horizontally.

    out[n, :, i, j] = pad(x)[n, :, oy_n + i, ox_n + j'] with oy_n, ox_n ~ U{0..2p}, j' = W-1-j if flipped
    else j. Offsets and flips are drawn (oy, then ox, then flip) from ``generator`` on x's device; the
    crop is one gather for the whole batch.
    """
    if x.ndim != 4 or not x.is_floating_point():
        raise ValueError(f"x must be a float tensor (N, C, H, W), got {x.dtype} {tuple(x.shape)}")
    if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
        raise ValueError(f"padding must be a non-negative int, got {padding!r}")
    _check_generator(generator, x.device)
    n, _, h, w = x.shape
    kw = {"generator": generator, "device": x.device}
    oy = torch.randint(0, 2 * padding + 1, (n,), **kw)
    ox = torch.randint(0, 2 * padding + 1, (n,), **kw)
    flip = torch.randint(0, 2, (n,), **kw).bool()
    rows = oy[:, None] + torch.arange(h, device=x.device)
    cols = ox[:, None] + torch.arange(w, device=x.device)
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    padded = F.pad(x, (padding,) * 4)
    batch = torch.arange(n, device=x.device)[:, None, None]
    return padded[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2).contiguous()


# ---------------------------------------------------------------- download

def _fetch(url: str, dest_dir: Path, timeout: float) -> Path:
    """Copy ``url`` to a temporary file in ``dest_dir`` (same file system, so os.replace is atomic)."""
    fd, tmp = tempfile.mkstemp(dir=dest_dir, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as src:
            shutil.copyfileobj(src, out, 1 << 20)
    except BaseException:
        os.unlink(tmp)
        raise
    return Path(tmp)


def _fetch_verified(name: str, rel: str, mirrors, dest_dir: Path, timeout: float, errors: list):
    """First mirror copy of ``name`` whose digest matches CHECKSUMS[rel], as a temp file; None if none."""
    for base in mirrors:
        url = base + name
        try:
            tmp = _fetch(url, dest_dir, timeout)
        except (OSError, ValueError, http.client.HTTPException) as e:
            errors.append(f"{url}: {e}")
            continue
        try:
            verify_file(tmp, rel)
            return tmp
        except DataError as e:
            errors.append(f"{url}: {e}")
            tmp.unlink()
    return None


def _extract_members(archive: Path, rels, root: Path):
    """Extract the regular-file members ``rels`` of a tar.gz to root/rel atomically, verifying each digest.

    Only the named members are read, through ``extractfile``: no path from the archive is ever written.
    """
    with tarfile.open(archive, "r:gz") as tar:
        for rel in rels:
            info = tar.getmember(rel)
            if not info.isfile():
                raise DataError(f"{archive.name}: member {rel} is not a regular file")
            atomic_write(root / rel, lambda out: shutil.copyfileobj(tar.extractfile(info), out, 1 << 20),
                         check=lambda tmp: verify_file(tmp, rel))


def _is_valid(root: Path, rel: str) -> bool:
    if not (root / rel).is_file():
        return False
    try:
        verify_file(root / rel, rel)
    except DataError:
        return False
    return True


def _download_missing(dataset, root: Path, missing, mirrors, timeout, errors: list):
    """Put verified copies of the files ``missing`` under root; failures per URL are appended to ``errors``."""
    dest_dir = (root / missing[0]).parent
    dest_dir.mkdir(parents=True, exist_ok=True)
    if dataset == "mnist":
        for rel in missing:
            tmp = _fetch_verified(Path(rel).name, rel, mirrors, dest_dir, timeout, errors)
            if tmp is not None:
                os.replace(tmp, root / rel)
        return
    archive = _fetch_verified(CIFAR10_ARCHIVE, CIFAR10_ARCHIVE, mirrors, dest_dir, timeout, errors)
    if archive is not None:
        try:
            _extract_members(archive, missing, root)
        finally:
            archive.unlink()


def download(dataset: str, data_dir=None, *, mirrors=None, timeout: float = 60.0) -> list:
    """Fetch ``dataset`` into the data directory, verify every file, return the paths now in place.

    MNIST: the four IDX ``.gz`` files from the first mirror that serves a copy with the right digest.
    CIFAR-10: ``cifar-10-python.tar.gz`` (md5-checked), of which only the six batch files are extracted
    (regular files with their exact names, each md5-checked) into ``cifar-10-batches-py/``. Files already
    present and valid are kept. ``mirrors`` are base URLs to which the file name is appended (file:// works).
    Raises DataError naming every expected path if anything could not be obtained.
    """
    _check_name(dataset)
    root = resolve_data_dir(data_dir)
    if mirrors is None:
        mirrors = MNIST_MIRRORS if dataset == "mnist" else CIFAR10_MIRRORS
    wanted = [rel for split in SPLITS for rel in _layouts(dataset, split)[-1]]
    missing = [rel for rel in wanted if not _is_valid(root, rel)]
    errors: list = []
    if missing:
        try:
            _download_missing(dataset, root, missing, mirrors, timeout, errors)
        except (DataError, KeyError, tarfile.TarError, OSError, EOFError) as e:
            errors.append(str(e))
    if any(not _is_valid(root, rel) for rel in missing):
        raise DataError(
            f"could not download {dataset} into {root}:\n  " + "\n  ".join(errors or ["unknown error"])
            + "\n" + _expected_message(dataset, SPLITS, root)
        )
    return [root / rel for rel in wanted]
