"""Data layer: IDX and CIFAR batch parsing, checksums, error messages, download, subsets, augmentation."""
import gzip
import hashlib
import io
import os
import pickle
import shutil
import tarfile
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from advland.empirical import data
from advland.empirical.data import DataError

# Class counts published in the shared data README (independent of this code).
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
CIFAR_X_TEST_SHA256 = "f9b1e2130bab680db56eb06d886f7f1ad0f1183907ceff4659d1735c890f5b04"


@pytest.fixture
def real_dir():
    env = os.environ.get("ADVLAND_DATA")
    if not env or not (Path(env) / "mnist").is_dir():
        pytest.skip("real data not available: set ADVLAND_DATA to the shared data directory (with mnist/, cifar10/)")
    return Path(env)


def write_idx(path, arr, type_code=0x08):
    header = bytes([0, 0, type_code, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())


def genuine_batch(n, seed=0):
    """A CIFAR-10 python batch in the distributed layout: bytes keys, (n, 3072) R|G|B planes, list labels."""
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    labels = [int(v) for v in rng.integers(0, 10, size=n)]
    batch = {b"batch_label": b"testing batch 1 of 1", b"labels": labels, b"data": raw,
             b"filenames": [b"img_%d.png" % i for i in range(n)]}
    return batch, raw, labels


# ---------------------------------------------------------------- IDX

def test_mnist_real_shapes_and_class_counts(real_dir):
    for split, counts in (("train", MNIST_TRAIN_COUNTS), ("test", MNIST_TEST_COUNTS)):
        x, y = data.load_arrays("mnist", split, real_dir)
        assert x.shape == (sum(counts), 28, 28, 1) and x.dtype == np.uint8
        assert y.dtype == np.int64
        assert np.bincount(y, minlength=10).tolist() == counts
        assert x.max() == 255 and x.min() == 0


def test_mnist_real_header_magic(real_dir):
    for name, magic in (("t10k-images-idx3-ubyte.gz", 2051), ("t10k-labels-idx1-ubyte.gz", 2049)):
        with gzip.open(real_dir / "mnist" / name) as f:
            assert int.from_bytes(f.read(4), "big") == magic
    assert data.read_idx(real_dir / "mnist" / "t10k-images-idx3-ubyte.gz").shape == (10000, 28, 28)


def test_read_idx_roundtrip_and_malformed(tmp_path):
    arr = np.random.default_rng(1).integers(0, 256, size=(3, 5, 4))
    write_idx(tmp_path / "ok.gz", arr)
    np.testing.assert_array_equal(data.read_idx(tmp_path / "ok.gz"), arr)
    write_idx(tmp_path / "float.gz", arr, type_code=0x0D)
    with pytest.raises(DataError, match="unsigned-byte IDX"):
        data.read_idx(tmp_path / "float.gz")
    with gzip.open(tmp_path / "short.gz", "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + b"\x00" * 9)
    with pytest.raises(DataError, match="payload"):
        data.read_idx(tmp_path / "short.gz")
    (tmp_path / "plain.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="gzip"):
        data.read_idx(tmp_path / "plain.gz")


# ---------------------------------------------------------------- checksums and messages

def test_corrupted_copy_is_detected(real_dir, tmp_path):
    (tmp_path / "mnist").mkdir()
    for rel in data.MNIST_FILES["test"]:
        shutil.copyfile(real_dir / rel, tmp_path / rel)
    data.load_arrays("mnist", "test", tmp_path)
    target = tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(target.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    target.write_bytes(bytes(raw))
    st = target.stat()  # the digest cache is keyed by (path, size, mtime): make the edit visible to it
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.raises(DataError, match="checksum mismatch") as err:
        data.load_arrays("mnist", "test", tmp_path)
    assert str(target) in str(err.value)


def test_wrong_content_at_expected_path_is_rejected(tmp_path):
    for rel in data.MNIST_FILES["test"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        write_idx(tmp_path / rel, np.zeros((2, 2), np.uint8))
    with pytest.raises(DataError, match="checksum mismatch"):
        data.load_arrays("mnist", "test", tmp_path)


def test_digest_cache_follows_file_changes(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"abc")
    assert data.file_digest(p, "sha256") == hashlib.sha256(b"abc").hexdigest()
    p.write_bytes(b"abcd")
    assert data.file_digest(p, "sha256") == hashlib.sha256(b"abcd").hexdigest()


@pytest.mark.parametrize("dataset,split", [("mnist", "train"), ("mnist", "test"), ("cifar10", "train"), ("cifar10", "test")])
def test_missing_files_error_lists_full_paths(tmp_path, dataset, split):
    with pytest.raises(DataError) as err:
        data.load_arrays(dataset, split, tmp_path)
    msg = str(err.value)
    for layout in data._layouts(dataset, split):
        for rel in layout:
            assert str(tmp_path / rel) in msg
    assert "--data-dir" in msg and "ADVLAND_DATA" in msg


def test_resolve_data_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("ADVLAND_DATA", str(tmp_path / "env"))
    assert data.resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert data.resolve_data_dir() == tmp_path / "env"
    monkeypatch.delenv("ADVLAND_DATA")
    assert data.resolve_data_dir() == Path.home() / ".cache" / "advland" / "data"


def test_bad_names_raise_value_error(tmp_path):
    with pytest.raises(ValueError, match="mnist"):
        data.load_arrays("svhn", "train", tmp_path)
    with pytest.raises(ValueError, match="train"):
        data.load_arrays("mnist", "valid", tmp_path)


# ---------------------------------------------------------------- CIFAR-10

@pytest.mark.parametrize("numpy_module", ["numpy._core.multiarray", "numpy.core.multiarray"])
def test_cifar_batch_genuine_layout(tmp_path, numpy_module):
    batch, raw, labels = genuine_batch(6)
    blob = pickle.dumps(batch, protocol=2)
    # Python-2 era files reference numpy.core.multiarray; numpy 2 writes numpy._core.multiarray.
    blob = blob.replace(b"cnumpy._core.multiarray\n", f"c{numpy_module}\n".encode())
    (tmp_path / "b").write_bytes(blob)
    x, y = data.read_cifar_batch(tmp_path / "b")
    assert x.shape == (6, 32, 32, 3) and x.dtype == np.uint8
    assert y.tolist() == labels and y.dtype == np.int64
    n, i, j, c = np.meshgrid(np.arange(6), np.arange(32), np.arange(32), np.arange(3), indexing="ij")
    np.testing.assert_array_equal(x[n, i, j, c], raw[n, c * 1024 + i * 32 + j])


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_cifar_batch_refuses_foreign_globals(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "evil").write_bytes(pickle.dumps({b"data": _Exploit(marker)}, protocol=2))
    with pytest.raises(DataError, match="not allowed"):
        data.read_cifar_batch(tmp_path / "evil")
    assert not marker.exists()


def test_cifar_pickle_layout_through_load_arrays(tmp_path, monkeypatch):
    batch, raw, labels = genuine_batch(20, seed=3)
    path = tmp_path / data.CIFAR_PICKLE_FILES["test"][0]
    path.parent.mkdir()
    path.write_bytes(pickle.dumps(batch, protocol=2))
    monkeypatch.setitem(data.CHECKSUMS, data.CIFAR_PICKLE_FILES["test"][0],
                        ("md5", hashlib.md5(path.read_bytes()).hexdigest()))
    monkeypatch.setitem(data.DATASET_INFO["cifar10"]["split_sizes"], "test", 20)
    x, y = data.load_arrays("cifar10", "test", tmp_path)
    assert x.shape == (20, 32, 32, 3) and y.tolist() == labels
    np.testing.assert_array_equal(x.transpose(0, 3, 1, 2).reshape(20, 3072), raw)


def test_cifar_real_test_split(real_dir):
    x, y = data.load_arrays("cifar10", "test", real_dir)
    assert hashlib.sha256(x.tobytes()).hexdigest() == CIFAR_X_TEST_SHA256
    assert np.bincount(y).tolist() == [1000] * 10


# ---------------------------------------------------------------- download (never the real network)

def test_download_offline_names_expected_files(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("network unreachable")

    monkeypatch.setattr(data.urllib.request, "urlopen", offline)
    for dataset in ("mnist", "cifar10"):
        with pytest.raises(DataError, match="could not download") as err:
            data.download(dataset, tmp_path)
        msg = str(err.value)
        for split in data.SPLITS:
            for rel in data._layouts(dataset, split)[-1]:
                assert str(tmp_path / rel) in msg
        assert "network unreachable" in msg and "ADVLAND_DATA" in msg
    assert not list(tmp_path.rglob(".part-*"))


def test_download_from_file_mirror(real_dir, tmp_path):
    mirror = (real_dir / "mnist").as_uri() + "/"
    paths = data.download("mnist", tmp_path / "d", mirrors=["file:///nonexistent/", mirror])
    assert all(p.is_file() for p in paths) and len(paths) == 4
    _, y = data.load_arrays("mnist", "test", tmp_path / "d")
    assert np.bincount(y).tolist() == MNIST_TEST_COUNTS


def test_download_rejects_corrupt_mirror(tmp_path):
    src = tmp_path / "mirror"
    src.mkdir()
    for rel in data.MNIST_FILES["train"] + data.MNIST_FILES["test"]:
        write_idx(src / Path(rel).name, np.zeros((2, 2), np.uint8))
    with pytest.raises(DataError, match="checksum mismatch"):
        data.download("mnist", tmp_path / "d", mirrors=[src.as_uri() + "/"])
    assert not list((tmp_path / "d").rglob("*.gz")) and not list((tmp_path / "d").rglob(".part-*"))


def _tarball(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            if payload is None:
                info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
                tar.addfile(info)
            else:
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))


def test_download_cifar_extracts_only_verified_batches(tmp_path, monkeypatch):
    blobs = {rel: pickle.dumps(genuine_batch(2, seed=k)[0], protocol=2)
             for k, rel in enumerate(data.CIFAR_PICKLE_FILES["train"] + data.CIFAR_PICKLE_FILES["test"])}
    for rel, blob in blobs.items():
        monkeypatch.setitem(data.CHECKSUMS, rel, ("md5", hashlib.md5(blob).hexdigest()))
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    archive = mirror / data.CIFAR10_ARCHIVE
    _tarball(archive, {**blobs, "cifar-10-batches-py/readme.html": b"x", "../escape": b"x"})
    monkeypatch.setitem(data.CHECKSUMS, data.CIFAR10_ARCHIVE, ("md5", hashlib.md5(archive.read_bytes()).hexdigest()))
    root = tmp_path / "d"
    paths = data.download("cifar10", root, mirrors=[mirror.as_uri() + "/"])
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == sorted(
        [data.CIFAR_PICKLE_DIR] + list(blobs))
    assert all(p.read_bytes() == blobs[p.relative_to(root).as_posix()] for p in paths)
    assert not (tmp_path / "escape").exists()


def test_download_cifar_rejects_symlink_member(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    archive = mirror / data.CIFAR10_ARCHIVE
    _tarball(archive, {rel: None for rel in data.CIFAR_PICKLE_FILES["train"] + data.CIFAR_PICKLE_FILES["test"]})
    monkeypatch.setitem(data.CHECKSUMS, data.CIFAR10_ARCHIVE, ("md5", hashlib.md5(archive.read_bytes()).hexdigest()))
    with pytest.raises(DataError, match="not a regular file"):
        data.download("cifar10", tmp_path / "d", mirrors=[mirror.as_uri() + "/"])
    assert not list((tmp_path / "d").rglob("data_batch_*"))


def test_download_cifar_rejects_wrong_archive(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    _tarball(mirror / data.CIFAR10_ARCHIVE, {"cifar-10-batches-py/test_batch": b"junk"})
    with pytest.raises(DataError, match="checksum mismatch"):
        data.download("cifar10", tmp_path / "d", mirrors=[mirror.as_uri() + "/"])


# ---------------------------------------------------------------- subsets and tensors

@st.composite
def labels_and_n(draw):
    counts = draw(st.lists(st.integers(1, 12), min_size=1, max_size=6))
    y = np.repeat(np.arange(len(counts)), counts)
    y = np.random.default_rng(draw(st.integers(0, 99))).permutation(y)
    n = draw(st.integers(1, len(counts) * min(counts)))
    return y, n


@settings(max_examples=60, deadline=None)
@given(labels_and_n(), st.integers(0, 2**32 - 1))
def test_balanced_subset_properties(yn, seed):
    y, n = yn
    idx = data.balanced_subset(y, n, seed)
    assert idx.dtype == np.int64 and len(idx) == n and len(np.unique(idx)) == n
    assert idx.min() >= 0 and idx.max() < len(y)
    per_class = np.bincount(y[idx], minlength=y.max() + 1)
    assert per_class.sum() == n and per_class.max() - per_class.min() <= 1
    np.testing.assert_array_equal(idx, data.balanced_subset(y.copy(), n, seed))
    if n > 1:
        assert set(data.balanced_subset(y, n - 1, seed)) <= set(idx.tolist())


def test_balanced_subset_rejects_impossible_sizes():
    y = np.array([0, 0, 1, 1, 1])
    with pytest.raises(ValueError, match="class 0"):
        data.balanced_subset(y, 6, 0)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="positive int"):
            data.balanced_subset(y, bad, 0)


def test_load_tensors_matches_arrays(real_dir):
    x, y = data.load_tensors("mnist", "test", real_dir, subset=50, seed=7)
    xa, ya = data.load_arrays("mnist", "test", real_dir)
    idx = data.balanced_subset(ya, 50, 7)
    assert x.shape == (50, 1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert 0.0 <= x.min() and x.max() <= 1.0
    np.testing.assert_array_equal(torch.round(x * 255).to(torch.uint8).numpy(), xa[idx].transpose(0, 3, 1, 2))
    assert torch.bincount(y).tolist() == [5] * 10


# ---------------------------------------------------------------- augmentation and batching

@settings(max_examples=25, deadline=None)
@given(st.integers(1, 5), st.integers(1, 3), st.integers(2, 7), st.integers(2, 7), st.integers(0, 3),
       st.integers(0, 2**31 - 1))
def test_random_crop_flip_is_a_shifted_or_flipped_copy(n, c, h, w, padding, seed):
    x = torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed)) + 0.5
    out = data.random_crop_flip(x, torch.Generator().manual_seed(seed), padding)
    assert out.shape == x.shape and out.dtype == x.dtype
    padded = torch.zeros(n, c, h + 2 * padding, w + 2 * padding)
    padded[:, :, padding:padding + h, padding:padding + w] = x
    for k in range(n):
        candidates = [crop.flip(-1) if f else crop
                      for oy in range(2 * padding + 1) for ox in range(2 * padding + 1) for f in (0, 1)
                      for crop in [padded[k, :, oy:oy + h, ox:ox + w]]]
        assert any(torch.equal(out[k], cand) for cand in candidates)
    again = data.random_crop_flip(x, torch.Generator().manual_seed(seed), padding)
    assert torch.equal(out, again)


def test_random_crop_flip_draws_every_offset_and_flip():
    h = w = 6
    padding = 2
    x = (torch.arange(h * w, dtype=torch.float32) + 1).view(1, 1, h, w).repeat(600, 1, 1, 1)
    out = data.random_crop_flip(x, torch.Generator().manual_seed(0), padding)
    padded = torch.nn.functional.pad(x[0], (padding,) * 4)
    seen = set()
    for oy in range(2 * padding + 1):
        for ox in range(2 * padding + 1):
            crop = padded[:, oy:oy + h, ox:ox + w]
            for f, cand in ((0, crop), (1, crop.flip(-1))):
                if (out == cand).flatten(1).all(1).any():
                    seen.add((oy, ox, f))
    assert len(seen) == 2 * (2 * padding + 1) ** 2


def test_random_crop_flip_validates_inputs():
    with pytest.raises(ValueError, match="padding"):
        data.random_crop_flip(torch.rand(1, 1, 4, 4), torch.Generator(), padding=-1)
    with pytest.raises(ValueError, match="Generator"):
        data.random_crop_flip(torch.rand(1, 1, 4, 4), 0)
    with pytest.raises(ValueError, match="float"):
        data.random_crop_flip(torch.zeros(1, 4, 4), torch.Generator())
