"""Download of the official data set files, verified by md5.

Each file is streamed into a temporary file beside its destination (``snninfo.io.atomic_path``)
while its md5 is computed, and renamed into place only when the transfer is complete and the
md5 is the official one, so the final path never holds a partial or unverified file.

Sources: the official servers (``mirror=None``) or a mirror laid out as
``<mirror>/<dataset>/<file>``, given as a local directory, a ``file://`` URL or an
``http(s)://`` URL.

Transient failures (network errors, timeouts, HTTP 5xx/408/429, bodies shorter than their
Content-Length) are retried with exponential backoff; HTTP 404 and other client errors,
unreadable local files and md5 mismatches are final.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from urllib.parse import quote, urlsplit

from snninfo.data.registry import RemoteFile, get_spec
from snninfo.io import atomic_path

logger = logging.getLogger(__name__)

RETRY_BACKOFF_S = 0.5
"""Pause after failed attempt k (1-based) is ``RETRY_BACKOFF_S * 2**(k-1)`` seconds."""
CHUNK_SIZE = 1 << 20
"""Bytes read from the source per step of the stream."""
URL_SCHEMES = ("http", "https", "file")
TRANSIENT_HTTP_STATUS = frozenset({408, 429})
"""Client-error statuses that are retried (all 5xx are retried too)."""


class DownloadError(RuntimeError):
    """A file could not be obtained; the message names the URL and the reason."""


class ChecksumError(DownloadError):
    """A completely transferred file does not have the official md5."""


class ChecksumWarning(UserWarning):
    """A file whose md5 differs from the official one was kept, as the caller allowed."""


class _IncompleteBody(Exception):
    """The body ended before the length its Content-Length header announced."""


def md5sum(path: str | os.PathLike, chunk_size: int = CHUNK_SIZE) -> str:
    """Return the md5 (lower-case hex) of the file at ``path``."""
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def source_url(dataset: str, file: RemoteFile, mirror: str | os.PathLike | None = None) -> str:
    """URL of ``file`` of ``dataset``: the official one, or ``<mirror>/<dataset>/<file>``.

    ``mirror`` is an ``http(s)://`` or ``file://`` URL, or a local directory path.
    """
    if mirror is None:
        return file.url
    text = os.fspath(mirror)
    scheme = urlsplit(text).scheme.lower()
    if scheme in URL_SCHEMES:
        return f"{text.rstrip('/')}/{quote(dataset)}/{quote(file.name)}"
    if "://" in text:
        raise ValueError(
            f"unsupported mirror URL {text!r}: scheme {scheme!r}, expected one of "
            f"{', '.join(URL_SCHEMES)} or a local directory"
        )
    return (Path(text).expanduser().resolve() / dataset / file.name).as_uri()


def _fetch(url: str, dest: Path, timeout: float) -> str:
    """Stream ``url`` into ``dest``; return the md5 of what was received.

    Raises ``_IncompleteBody`` when fewer bytes arrive than the Content-Length announced.
    """
    digest = hashlib.md5()
    received = 0
    with urllib.request.urlopen(url, timeout=timeout) as response, open(dest, "wb") as out:
        announced = response.headers.get("Content-Length")
        while chunk := response.read(CHUNK_SIZE):
            out.write(chunk)
            digest.update(chunk)
            received += len(chunk)
    if announced is not None and announced.isdigit() and received != int(announced):
        raise _IncompleteBody(f"body truncated: received {received} of {announced} bytes")
    return digest.hexdigest()


def _describe(exc: BaseException, timeout: float) -> str:
    """One-line description of a failed attempt."""
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
    if isinstance(exc, TimeoutError):
        return f"timed out (no data for {timeout:g} s)"
    if isinstance(exc, _IncompleteBody):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _check_md5(
    actual: str, expected: str, target: Path, url: str, dataset: str, accept_mismatch: bool,
) -> None:
    """Raise :class:`ChecksumError` on a mismatch, or only warn when it is accepted."""
    if actual == expected:
        return
    mismatch = (
        f"{target.name} ({dataset}) from {url}: md5 {actual} does not match the official "
        f"md5 {expected}"
    )
    if not accept_mismatch:
        raise ChecksumError(
            f"{mismatch}; the file was not kept. If this copy is known to differ (e.g. a mirror "
            f"holding a subset), accept it with `data.accept_checksum_mismatch: [{dataset}]` in "
            "the config (command line: --accept-checksum-mismatch)."
        )
    warnings.warn(
        f"{mismatch}; kept because checksum mismatches are accepted for {dataset} "
        "(data.accept_checksum_mismatch)",
        ChecksumWarning,
        stacklevel=4,  # the caller of download_dataset
    )


def _download_file(
    url: str, target: Path, expected_md5: str, dataset: str, timeout: float, retries: int,
    accept_mismatch: bool, log: logging.Logger,
) -> None:
    """Download ``url`` to ``target`` atomically with retries; verify the md5 (see module doc)."""
    local = urlsplit(url).scheme == "file"
    last_error = ""
    for attempt in range(1, retries + 1):
        try:
            with atomic_path(target) as tmp:
                actual = _fetch(url, tmp, timeout)
                _check_md5(actual, expected_md5, target, url, dataset, accept_mismatch)
            official = "official" if actual == expected_md5 else "NOT the official, accepted"
            log.info("%s: downloaded, md5 %s (%s)", target, actual, official)
            return
        except urllib.error.HTTPError as exc:
            exc.close()
            last_error = f"HTTP {exc.code} {exc.reason}"
            if exc.code < 500 and exc.code not in TRANSIENT_HTTP_STATUS:
                raise DownloadError(f"cannot download {url}: {last_error} (not retried)") from exc
        except (OSError, http.client.HTTPException, _IncompleteBody) as exc:
            last_error = _describe(exc, timeout)
            if local:
                raise DownloadError(f"cannot read {url}: {last_error}") from exc
        if attempt < retries:
            delay = RETRY_BACKOFF_S * 2 ** (attempt - 1)
            log.warning(
                "attempt %d/%d for %s failed (%s); retrying in %.2g s",
                attempt, retries, url, last_error, delay,
            )
            time.sleep(delay)
    raise DownloadError(
        f"cannot download {url}: all {retries} attempt(s) failed; last error: {last_error}"
    )


def download_dataset(
    dataset: str,
    dest_dir: str | os.PathLike,
    mirror: str | os.PathLike | None = None,
    timeout: float = 60.0,
    retries: int = 3,
    accept_mismatch: bool = False,
    log: logging.Logger | None = None,
) -> list[Path]:
    """Download every official file of ``dataset`` into ``dest_dir/<file>``; return the paths.

    Parameters
    ----------
    dataset
        ``mnist``, ``fashion_mnist`` or ``cifar10``.
    dest_dir
        Destination directory, created if needed. A file already there with the official md5
        is not downloaded again; one with another md5 is replaced.
    mirror
        ``None`` for the official URLs; otherwise a local directory, a ``file://`` URL or an
        ``http(s)://`` URL laid out as ``<mirror>/<dataset>/<file>``.
    timeout
        Seconds without data (socket timeout) before an attempt is abandoned.
    retries
        Attempts per file (>= 1) for transient failures.
    accept_mismatch
        Keep a file whose md5 differs from the official one, with a :class:`ChecksumWarning`,
        instead of raising :class:`ChecksumError`.
    log
        Logger for progress messages (default: this module's logger).

    Raises
    ------
    ChecksumError
        A file was transferred completely but its md5 is not the official one (and
        ``accept_mismatch`` is false); it was discarded.
    DownloadError
        A file could not be transferred: HTTP 404 or another client error, an unreadable local
        file, or ``retries`` failed attempts (the message gives the last error).
    """
    spec = get_spec(dataset)
    if retries < 1:
        raise ValueError(f"retries must be >= 1, got {retries}")
    if not timeout > 0:
        raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
    log = log or logger
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    paths = []
    for file in spec.files.values():
        target = dest / file.name
        paths.append(target)
        if target.is_file():
            present = md5sum(target)
            if present == file.md5:
                log.info("%s: already present with the official md5 %s; not downloaded again",
                         target, present)
                continue
            log.info("%s: present with md5 %s instead of the official %s; downloading again",
                     target, present, file.md5)
        url = source_url(dataset, file, mirror)
        log.info("downloading %s -> %s", url, target)
        _download_file(url, target, file.md5, dataset, timeout, retries, accept_mismatch, log)
    return paths
