"""Data sources: IDX parsing, checksummed downloads from a local server, offline errors, real packaged data."""

import functools
import gzip
import hashlib
import http.server
import socket
import threading
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


def test_mnist_offline_fails_at_once_naming_offline_sources(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "MNIST_URL", closed_port_url())
    with pytest.raises(data.DataError, match="dataset=fashion-mnist.*dataset=mnist-5k"):
        data.load_mnist(tmp_path)
    assert not any((tmp_path / "mnist").glob("*.gz"))


def test_fashion_mnist_reads_debian_folder(tmp_path, monkeypatch):
    arrays = fake_mnist(tmp_path, n_train=10_020)
    monkeypatch.setattr(data, "DEBIAN_FASHION_DIR", tmp_path)
    splits = data.load_fashion_mnist(tmp_path / "cache")
    assert len(splits.train_x) == 20 and len(splits.val_x) == 10_000 and len(splits.test_x) == 10
    np.testing.assert_array_equal(splits.test_y, arrays["t10k-labels-idx1-ubyte.gz"])
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(data.DataError, match="apt-get install --reinstall dataset-fashion-mnist"):
        data.load_fashion_mnist(tmp_path / "cache")


def test_mnist_5k_is_real_packaged_data(tmp_path):
    splits = data.load_mnist_5k(tmp_path)
    assert [len(splits.train_x), len(splits.val_x), len(splits.test_x)] == [3000, 1000, 1000]
    assert splits.train_x.shape[1] == 784 and splits.train_x.max() == 1.0 and splits.train_x.min() == 0.0
    assert sorted(np.unique(splits.train_y)) == list(range(10))


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


def test_the_default_studys_data_is_the_one_setup_installs(tmp_path):
    """The README's first command runs offline: the default study reads Debian's Fashion-MNIST (installed by
    scripts/setup.sh, as in CI), which must be there and give the book's split. (Debian recompressed the files, so
    the download's checksums do not apply to them; read_idx checks each header against its size.)"""
    from decaylab.spec import load_config, runs

    root = Path(__file__).resolve().parents[1]
    assert {r.dataset for r in runs(load_config(root / "config" / "config.yaml"))} == {"fashion-mnist"}
    assert "dataset-fashion-mnist" in (root / "scripts" / "setup.sh").read_text()
    assert data.DEBIAN_FASHION_DIR.is_dir(), "run scripts/setup.sh as root (apt-get install dataset-fashion-mnist)"
    splits = data.load_fashion_mnist(tmp_path)
    assert [len(splits.train_x), len(splits.val_x), len(splits.test_x)] == [50_000, 10_000, 10_000]
    assert splits.train_x.shape[1] == 784 and sorted(np.unique(splits.test_y)) == list(range(10))
