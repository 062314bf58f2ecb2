"""Downloads against real HTTP servers on loopback, and local / file:// mirrors."""

from __future__ import annotations

import argparse
import hashlib
import logging
import shutil
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest

from snninfo.data import cli, download, registry
from snninfo.data.download import (
    ChecksumError, ChecksumWarning, DownloadError, download_dataset, md5sum, source_url,
)
from snninfo.data.registry import DATASETS, DatasetSpec, RemoteFile

MNIST_FILES = [f.name for f in DATASETS["mnist"].files.values()]
CIFAR_OFFICIAL_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR_SUBSET_MD5 = "33568d23bd12ce23c9b6a3f8987dd63a"
STALL_S = 30.0  # a stalling handler waits this long at most (released at server shutdown)

Behaviour = Callable[[str, int], str]
"""(path relative to the mirror root, 1-based attempt number for that path) -> what to do:
``ok``, ``truncate`` (announce the full length, send half, close), ``stall``, or an HTTP
error status such as ``"503"``."""


class MirrorServer(ThreadingHTTPServer):
    """Serves ``root`` on 127.0.0.1 with a scripted behaviour; counts requests per path."""

    daemon_threads = True

    def __init__(self, root: Path, behaviour: Behaviour) -> None:
        super().__init__(("127.0.0.1", 0), MirrorHandler)
        self.root = root
        self.behaviour = behaviour
        self.attempts: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.release = threading.Event()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class MirrorHandler(BaseHTTPRequestHandler):
    server: MirrorServer

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        srv = self.server
        rel = unquote(urlsplit(self.path).path).lstrip("/")
        with srv.lock:
            srv.attempts[rel] += 1
            attempt = srv.attempts[rel]
        path = srv.root / rel
        if not path.is_file():
            self.send_error(404)
            return
        action = srv.behaviour(rel, attempt)
        if action.isdigit():
            self.send_error(int(action))
            return
        if action == "stall":
            srv.release.wait(STALL_S)
            return
        body = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if action == "truncate":
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        assert action == "ok", action
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass


def always(action: str) -> Behaviour:
    return lambda rel, attempt: action


def first_then_ok(action: str) -> Behaviour:
    return lambda rel, attempt: action if attempt == 1 else "ok"


@pytest.fixture
def serve() -> Iterator[Callable[..., MirrorServer]]:
    """Start loopback mirror servers; all are shut down at teardown."""
    servers: list[tuple[MirrorServer, threading.Thread]] = []

    def start(root: Path, behaviour: Behaviour = always("ok")) -> MirrorServer:
        srv = MirrorServer(root, behaviour)
        thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                                  daemon=True)
        thread.start()
        servers.append((srv, thread))
        return srv

    try:
        yield start
    finally:
        for srv, thread in servers:
            srv.release.set()
            srv.shutdown()
            srv.server_close()
            thread.join(timeout=5)


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(download, "RETRY_BACKOFF_S", 0.01)


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A registered one-file data set ``tiny``; returns the mirror root holding it."""
    blob = np.random.default_rng(0).integers(0, 256, 200_000, dtype=np.uint8).tobytes()
    mirror = tmp_path / "tiny-mirror"
    (mirror / "tiny").mkdir(parents=True)
    (mirror / "tiny" / "blob.bin").write_bytes(blob)
    spec = DatasetSpec(
        name="tiny", format="idx",
        files={"blob": RemoteFile("blob.bin", hashlib.md5(blob).hexdigest(),
                                  "http://127.0.0.1:9/unused/blob.bin")},
        image_shape=(1, 1), class_names=(),
    )
    monkeypatch.setitem(registry.DATASETS, "tiny", spec)
    return mirror


@pytest.fixture
def mnist_mirror(shared_data: Path, tmp_path: Path) -> Path:
    """A temporary mirror with copies of the real MNIST files."""
    root = tmp_path / "mirror"
    shutil.copytree(shared_data / "mnist", root / "mnist")
    return root


def leftovers(directory: Path) -> list[str]:
    """Temporary files left in ``directory``."""
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


# ---------------------------------------------------------------- success, real files

def test_real_mnist_over_http(
    mnist_mirror: Path, serve, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    srv = serve(mnist_mirror)
    dest = tmp_path / "raw"
    paths = download_dataset("mnist", dest, mirror=srv.url, timeout=10)
    assert [p.name for p in paths] == MNIST_FILES
    for path, file in zip(paths, DATASETS["mnist"].files.values()):
        assert md5sum(path) == file.md5
        assert path.read_bytes() == (mnist_mirror / "mnist" / file.name).read_bytes()
    assert srv.attempts == Counter({f"mnist/{name}": 1 for name in MNIST_FILES})
    assert leftovers(dest) == []

    with caplog.at_level(logging.INFO, logger="snninfo.data.download"):
        assert download_dataset("mnist", dest, mirror=srv.url + "/") == paths
    assert srv.attempts == Counter({f"mnist/{name}": 1 for name in MNIST_FILES})
    assert caplog.text.count("already present with the official md5") == 4


def test_wrong_file_rejected(mnist_mirror: Path, serve, tmp_path: Path) -> None:
    corrupt = mnist_mirror / "mnist" / "train-labels-idx1-ubyte.gz"
    data = bytearray(corrupt.read_bytes())
    data[len(data) // 2] ^= 0xFF
    corrupt.write_bytes(bytes(data))
    actual = hashlib.md5(data).hexdigest()
    srv = serve(mnist_mirror)
    dest = tmp_path / "raw"
    with pytest.raises(ChecksumError) as err:
        download_dataset("mnist", dest, mirror=srv.url)
    message = str(err.value)
    for part in ("train-labels-idx1-ubyte.gz", DATASETS["mnist"].files["train_labels"].md5,
                 actual, "data.accept_checksum_mismatch: [mnist]"):
        assert part in message
    assert not (dest / "train-labels-idx1-ubyte.gz").exists()
    assert leftovers(dest) == []
    assert srv.attempts["mnist/train-labels-idx1-ubyte.gz"] == 1  # a mismatch is final

    with pytest.warns(ChecksumWarning, match=f"train-labels-idx1-ubyte.gz .*md5 {actual}"):
        paths = download_dataset("mnist", dest, mirror=srv.url, accept_mismatch=True)
    assert md5sum(dest / "train-labels-idx1-ubyte.gz") == actual
    assert all(p.is_file() for p in paths) and leftovers(dest) == []


# ---------------------------------------------------------------- retries, small file

def test_truncated_body_retried(tiny: Path, serve, tmp_path: Path) -> None:
    srv = serve(tiny, first_then_ok("truncate"))
    (path,) = download_dataset("tiny", tmp_path / "raw", mirror=srv.url, timeout=5)
    assert md5sum(path) == DATASETS["tiny"].files["blob"].md5
    assert srv.attempts["tiny/blob.bin"] == 2


def test_truncated_body_every_time(tiny: Path, serve, tmp_path: Path) -> None:
    srv = serve(tiny, always("truncate"))
    dest = tmp_path / "raw"
    with pytest.raises(DownloadError) as err:
        download_dataset("tiny", dest, mirror=srv.url, timeout=5, retries=3)
    assert not isinstance(err.value, ChecksumError)
    message = str(err.value)
    assert f"{srv.url}/tiny/blob.bin" in message
    assert "all 3 attempt(s) failed" in message
    assert "truncated: received 100000 of 200000 bytes" in message
    assert srv.attempts["tiny/blob.bin"] == 3
    assert list(dest.iterdir()) == []


def test_503_then_success(tiny: Path, serve, tmp_path: Path) -> None:
    srv = serve(tiny, first_then_ok("503"))
    (path,) = download_dataset("tiny", tmp_path / "raw", mirror=srv.url, timeout=5)
    assert md5sum(path) == DATASETS["tiny"].files["blob"].md5
    assert srv.attempts["tiny/blob.bin"] == 2


def test_500_every_time(tiny: Path, serve, tmp_path: Path) -> None:
    srv = serve(tiny, always("500"))
    with pytest.raises(DownloadError, match=r"all 2 attempt\(s\) failed; last error: HTTP 500"):
        download_dataset("tiny", tmp_path / "raw", mirror=srv.url, timeout=5, retries=2)
    assert srv.attempts["tiny/blob.bin"] == 2


def test_stalled_server_times_out(tiny: Path, serve, tmp_path: Path) -> None:
    srv = serve(tiny, always("stall"))
    dest = tmp_path / "raw"
    start = time.monotonic()
    with pytest.raises(DownloadError, match=r"all 3 attempt\(s\) failed; last error: timed out"):
        download_dataset("tiny", dest, mirror=srv.url, timeout=0.5, retries=3)
    elapsed = time.monotonic() - start
    assert 1.5 <= elapsed < 6.0, elapsed
    assert srv.attempts["tiny/blob.bin"] == 3
    assert list(dest.iterdir()) == []


def test_404_not_retried(tiny: Path, serve, tmp_path: Path) -> None:
    (tiny / "tiny" / "blob.bin").unlink()
    srv = serve(tiny)
    dest = tmp_path / "raw"
    with pytest.raises(DownloadError, match=r"tiny/blob.bin: HTTP 404 .*\(not retried\)"):
        download_dataset("tiny", dest, mirror=srv.url, retries=3)
    assert srv.attempts["tiny/blob.bin"] == 1
    assert list(dest.iterdir()) == []


def test_connection_refused_retried(tiny: Path, serve, tmp_path: Path) -> None:
    srv = serve(tiny)
    url = srv.url
    srv.shutdown()
    srv.server_close()
    with pytest.raises(DownloadError, match=r"all 2 attempt\(s\) failed; last error: Connection"):
        download_dataset("tiny", tmp_path / "raw", mirror=url, timeout=2, retries=2)


def test_present_file_with_wrong_md5_replaced(tiny: Path, serve, tmp_path: Path) -> None:
    dest = tmp_path / "raw"
    dest.mkdir()
    (dest / "blob.bin").write_bytes(b"stale")
    srv = serve(tiny)
    download_dataset("tiny", dest, mirror=srv.url)
    assert md5sum(dest / "blob.bin") == DATASETS["tiny"].files["blob"].md5
    assert srv.attempts["tiny/blob.bin"] == 1


# ---------------------------------------------------------------- local mirrors

def test_local_directory_mirror_cifar_subset(shared_data: Path, tmp_path: Path) -> None:
    dest = tmp_path / "raw"
    with pytest.raises(ChecksumError) as err:
        download_dataset("cifar10", dest, mirror=shared_data)
    message = str(err.value)
    for part in ("cifar-10-python.tar.gz", CIFAR_OFFICIAL_MD5, CIFAR_SUBSET_MD5,
                 "data.accept_checksum_mismatch: [cifar10]"):
        assert part in message
    assert list(dest.iterdir()) == []

    with pytest.warns(ChecksumWarning, match=CIFAR_SUBSET_MD5):
        (path,) = download_dataset("cifar10", dest, mirror=str(shared_data),
                                   accept_mismatch=True)
    assert md5sum(path) == CIFAR_SUBSET_MD5
    assert leftovers(dest) == []


def test_file_url_mirror(shared_data: Path, tmp_path: Path) -> None:
    dest = tmp_path / "raw"
    paths = download_dataset("mnist", dest, mirror=shared_data.as_uri())
    for path, file in zip(paths, DATASETS["mnist"].files.values()):
        assert md5sum(path) == file.md5
    assert leftovers(dest) == []


def test_local_mirror_missing_file(tiny: Path, tmp_path: Path) -> None:
    (tiny / "tiny" / "blob.bin").unlink()
    dest = tmp_path / "raw"
    with pytest.raises(DownloadError, match=r"cannot read file://.*/tiny/blob.bin: .*No such file"):
        download_dataset("tiny", dest, mirror=tiny)
    assert list(dest.iterdir()) == []


# ---------------------------------------------------------------- URLs and arguments

def test_source_urls(tmp_path: Path) -> None:
    file = DATASETS["mnist"].files["train_images"]
    assert source_url("mnist", file) == \
        "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz"
    assert source_url("mnist", file, "http://host/m/") == \
        "http://host/m/mnist/train-images-idx3-ubyte.gz"
    assert source_url("mnist", file, tmp_path) == \
        (tmp_path / "mnist" / "train-images-idx3-ubyte.gz").as_uri()
    assert DATASETS["cifar10"].files["archive"].url == \
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    assert DATASETS["fashion_mnist"].files["test_labels"].url == \
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/t10k-labels-idx1-ubyte.gz"
    with pytest.raises(ValueError, match="unsupported mirror URL 'ftp://host'"):
        source_url("mnist", file, "ftp://host")


def test_invalid_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown data set 'svhn'"):
        download_dataset("svhn", tmp_path)
    with pytest.raises(ValueError, match="retries must be >= 1"):
        download_dataset("mnist", tmp_path, retries=0)
    with pytest.raises(ValueError, match="timeout must be > 0"):
        download_dataset("mnist", tmp_path, timeout=0)


# ---------------------------------------------------------------- command line

def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="snninfo")
    subparsers = parser.add_subparsers(dest="command", required=True)
    cli.add_download_parser(subparsers)
    cli.add_convert_parser(subparsers)
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_download_config_accepts_subset(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    dest = tmp_path / "raw"
    assert run_cli("download", "--dataset", "cifar10", "--dest", str(dest),
                   "--mirror", str(shared_data)) == 1
    assert "data.accept_checksum_mismatch: [cifar10]" in capsys.readouterr().err
    assert not (dest / "cifar-10-python.tar.gz").exists()

    config = tmp_path / "config.yaml"
    config.write_text(f"data:\n  mirror: {shared_data}\n  accept_checksum_mismatch: [cifar10]\n"
                      "  retries: 1\n")
    with pytest.warns(ChecksumWarning):
        assert run_cli("download", "--dataset", "cifar10", "--dest", str(dest),
                       "--config", str(config)) == 0
    assert md5sum(dest / "cifar-10-python.tar.gz") == CIFAR_SUBSET_MD5


def test_cli_download_flag_and_bad_config(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    dest = tmp_path / "raw"
    with pytest.warns(ChecksumWarning):
        assert run_cli("download", "--dataset", "cifar10", "--dest", str(dest), "--mirror",
                       shared_data.as_uri(), "--accept-checksum-mismatch", "--timeout", "5",
                       "--retries", "1") == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("data:\n  retries: 0\n")
    assert run_cli("download", "--dataset", "mnist", "--dest", str(dest),
                   "--config", str(bad)) == 1
    assert "data.retries" in capsys.readouterr().err
