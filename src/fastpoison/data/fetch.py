"""Download, verify and safely unpack the public rating archives into the data cache.

Every archive is checked against its SHA-256 *before* it is opened, unpacked into a
temporary folder beside the cache and renamed into ``<cache_dir>/<name>/`` only when
complete, so a failed fetch leaves nothing half-written behind.
"""
from __future__ import annotations

import hashlib
import os
import posixpath
import re
import shutil
import socket
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zipfile
import zlib
from http.client import HTTPException
from pathlib import Path

from tqdm import tqdm

from ..errors import DataError
from .paths import default_cache_dir
from .records import Archive, strip_root
from .registry import DATASETS
from .verified import damaged, write_marker

__all__ = ["Archive", "fetch", "fetchable"]

_CHUNK = 1 << 16
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_SCHEMES = ("http", "https", "file")


def fetch(
    name: str,
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    url: str | None = None,
    sha256: str | None = None,
    timeout: float = 60.0,
    progress: bool = True,
    force: bool = False,
) -> Path:
    """Make ``<cache_dir>/<name>/`` hold the files of dataset ``name``'s archive (its
    `DatasetRecord.archive`); return that folder.

    Returns at once, without network access, when the needed files are already there
    (unless ``force``). ``url`` replaces the archive's URL (mirrors, ``file://``);
    ``sha256`` replaces its expected hash and is required when none is published.
    Raises `DataError` on unknown names, network failure, hash mismatch, unsafe or
    corrupt archives and missing members; nothing is left in the cache on failure.
    """
    spec = _spec(name)
    target = Path(cache_dir if cache_dir is not None else default_cache_dir()) / name
    if not force and _complete(target, spec):
        return target
    expected = _expected_hash(name, spec, sha256)
    source = url if url is not None else spec.url
    scheme = urllib.parse.urlsplit(source).scheme.lower()
    if scheme not in _SCHEMES:
        raise DataError(f"cannot fetch {source!r}: the URL must be http, https or file")
    limit = spec.size if sha256 is None else None

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, part_name = tempfile.mkstemp(prefix=f".{name}-", suffix=".part", dir=target.parent)
    os.close(fd)
    part = Path(part_name)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", suffix=".tmp", dir=target.parent))
    try:
        actual = _download(source, part, timeout=timeout, progress=progress, desc=name, limit=limit)
        if actual != expected:
            raise DataError(
                f"SHA-256 mismatch for {source}: expected {expected}, got {actual}; "
                "the download was discarded"
            )
        _extract(part, staging, spec.root, source)
        pairs = zip(spec.members, spec.outputs())
        missing = [m for m, out in pairs if not (staging / out).is_file()]
        if missing:
            raise DataError(f"archive {source} lacks the needed member(s): {', '.join(missing)}")
        write_marker(staging, spec.outputs())
        staging.chmod(0o755)
        _install(staging, target, spec)
    finally:
        part.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
    return target


def fetchable() -> list[str]:
    """The registered datasets that have an archive to fetch, sorted."""
    return sorted(name for name, record in DATASETS.items() if record.archive is not None)


# ---------------------------------------------------------------------------- helpers
def _spec(name: str) -> Archive:
    """The archive of dataset ``name``; raises `DataError` with its fetch message, or
    listing the fetchable datasets, when it has none."""
    record = DATASETS.get(name)
    if record is not None and record.archive is not None:
        return record.archive
    if record is not None and record.fetch_message is not None:
        raise DataError(record.fetch_message)
    by_hand = [n for n, r in DATASETS.items() if r.fetch_message is not None]
    problem = "unknown dataset" if record is None else "no download is known for dataset"
    raise DataError(
        f"{problem} {name!r}; the datasets that can be fetched are: {', '.join(fetchable())}"
        + (f" ({', '.join(by_hand)} must be obtained by hand)" if by_hand else "")
    )


def _expected_hash(name: str, spec: Archive, override: str | None) -> str:
    value = override if override is not None else spec.sha256
    if value is None:
        raise DataError(
            f"no published SHA-256 is known for {name!r} ({spec.url}); verify the archive "
            "yourself and pass its hash explicitly, e.g. fetch(..., sha256='<64 hex digits>')"
        )
    norm = value.strip().lower()
    if not _SHA256_RE.match(norm):
        raise DataError(f"sha256 must be 64 hexadecimal digits, got {value!r}")
    return norm


def _complete(target: Path, spec: Archive) -> bool:
    """Whether ``target`` holds every file of ``spec``, as fetch installed them."""
    return target.is_dir() and all((target / out).is_file() for out in spec.outputs()) and not damaged(target)


def _download(
    url: str, dest: Path, *, timeout: float, progress: bool, desc: str, limit: int | None
) -> str:
    """Stream ``url`` into ``dest``; return the SHA-256 hex digest of the bytes written."""
    digest = hashlib.sha256()
    request = urllib.request.Request(url, headers={"User-Agent": "fastpoison"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, dest.open("wb") as out:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else limit
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                      desc=desc, disable=not progress, leave=False) as bar:
                done = 0
                while chunk := response.read(_CHUNK):
                    done += len(chunk)
                    if limit is not None and done > limit:
                        raise DataError(f"download of {url} exceeds the expected {limit} bytes")
                    digest.update(chunk)
                    out.write(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as exc:
        raise DataError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise DataError(_unreachable(url, exc.reason, timeout)) from None
    except (socket.timeout, TimeoutError):
        raise DataError(f"download of {url} timed out after {timeout:g} s") from None
    except (HTTPException, OSError) as exc:
        raise DataError(f"download of {url} failed: {exc}") from None
    return digest.hexdigest()


def _unreachable(url: str, reason: object, timeout: float) -> str:
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return f"download of {url} timed out after {timeout:g} s"
    return (
        f"cannot reach {url} ({reason}); if this machine is offline, download the archive elsewhere "
        "and pass --url file:///path/to/the/archive (url='file://...' from Python), or put the files "
        "under --data-dir"
    )


def _member_path(name: str, root: str, source: str) -> str:
    """The safe output path (relative, '/'-separated) of archive member ``name``."""
    norm = name.replace("\\", "/")
    parts = [p for p in norm.split("/") if p not in ("", ".")]
    if norm.startswith("/") or re.match(r"^[A-Za-z]:", norm) or ".." in parts:
        raise DataError(f"archive {source} has a member escaping the target folder: {name!r}")
    return strip_root("/".join(parts), root)


def _inside(base: Path, rel: str, name: str, source: str) -> Path:
    path = (base / rel).resolve()
    if not path.is_relative_to(base.resolve()):
        raise DataError(f"archive {source} has a member escaping the target folder: {name!r}")
    return path


def _extract(archive: Path, dest: Path, root: str, source: str) -> None:
    """Unpack a zip or tar(.gz/.bz2/.xz) archive, recognised by content, into ``dest``.

    Every member is checked before anything is written; only regular files and folders
    are written (links are checked, then skipped). Raises `DataError` on escaping
    members and on corrupt or truncated archives.
    """
    with archive.open("rb") as fh:
        magic = fh.read(4)
    try:
        if magic[:2] == b"PK":
            with zipfile.ZipFile(archive) as zf:
                _extract_zip(zf, dest, root, source)
        else:
            with tarfile.open(archive, "r:*") as tf:
                _extract_tar(tf, dest, root, source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, tarfile.TarError, EOFError, zlib.error,
            NotImplementedError, RuntimeError, OSError) as exc:
        raise DataError(
            f"cannot extract {source} (corrupt, truncated or not a zip/tar archive): {exc}"
        ) from None


def _extract_zip(zf: zipfile.ZipFile, dest: Path, root: str, source: str) -> None:
    plan = [(info, _inside(dest, _member_path(info.filename, root, source), info.filename, source))
            for info in zf.infolist()]
    for info, path in plan:
        if info.is_dir():
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        with zf.open(info) as src, path.open("wb") as out:
            shutil.copyfileobj(src, out, _CHUNK)


def _extract_tar(tf: tarfile.TarFile, dest: Path, root: str, source: str) -> None:
    plan = []
    for member in tf.getmembers():
        path = _inside(dest, _member_path(member.name, root, source), member.name, source)
        if member.issym():
            base = posixpath.dirname(member.name.replace("\\", "/"))
            _check_link(posixpath.join(base, member.linkname), member, source)
        elif member.islnk():
            _check_link(member.linkname, member, source)
        plan.append((member, path))
    for member, path in plan:
        if member.isdir():
            path.mkdir(parents=True, exist_ok=True)
        elif member.isfile():
            path.parent.mkdir(parents=True, exist_ok=True)
            src = tf.extractfile(member)
            if src is None:
                raise tarfile.ReadError(f"cannot read member {member.name!r}")
            with src, path.open("wb") as out:
                shutil.copyfileobj(src, out, _CHUNK)


def _check_link(target: str, member: tarfile.TarInfo, source: str) -> None:
    """Refuse a tar link whose target (archive-relative) lies outside the archive."""
    norm = posixpath.normpath(target.replace("\\", "/"))
    if norm.startswith("/") or norm == ".." or norm.startswith("../"):
        raise DataError(
            f"archive {source} has a link escaping the target folder: "
            f"{member.name!r} -> {member.linkname!r}"
        )


def _install(staging: Path, target: Path, spec: Archive) -> None:
    """Rename the complete ``staging`` folder to ``target``, replacing an older copy."""
    old: Path | None = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        target.rename(old)
    try:
        staging.rename(target)
    except OSError as exc:
        if old is None and _complete(target, spec):
            return  # a concurrent fetch finished first; its copy is as good as ours
        if old is not None:
            old.rename(target)
        raise DataError(f"cannot move the extracted files into place: {exc}", path=target) from None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
