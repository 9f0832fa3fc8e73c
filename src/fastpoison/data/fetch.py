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
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path

from tqdm import tqdm

from ..errors import DataError
from .paths import default_cache_dir

__all__ = ["ARCHIVES", "Archive", "fetch"]

_CHUNK = 1 << 16
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_SCHEMES = ("http", "https", "file")
_ML_CITATION = (
    "F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets: History and "
    "Context. ACM TiiS 5(4):19. doi:10.1145/2827872"
)


@dataclass(frozen=True)
class Archive:
    """One downloadable archive.

    ``members`` are paths inside the archive that a loader needs; ``root`` is the archive's
    top folder, stripped on extraction (``""`` when there is none). ``sha256``/``size`` are
    ``None`` when no published value is known.
    """

    url: str
    sha256: str | None
    size: int | None
    members: tuple[str, ...]
    root: str
    description: str
    citation: str

    def outputs(self) -> tuple[str, ...]:
        """The needed members as paths relative to ``<cache_dir>/<name>/``."""
        return tuple(_flatten(m, self.root) for m in self.members)


ARCHIVES: dict[str, Archive] = {
    # SHA-256 and size as published in TensorFlow Datasets' checksums
    # (tensorflow_datasets/url_checksums/movielens.txt); OmniRec pins the same SHA-256.
    "ml-100k": Archive(
        url="https://files.grouplens.org/datasets/movielens/ml-100k.zip",
        sha256="50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
        size=4_924_029,
        members=("ml-100k/u.data",),
        root="ml-100k",
        description="MovieLens 100K: 100,000 ratings (1-5) by 943 users on 1,682 movies.",
        citation=_ML_CITATION,
    ),
    # SHA-256 and size as published in TensorFlow Datasets' checksums
    # (tensorflow_datasets/url_checksums/movielens.txt).
    "ml-1m": Archive(
        url="https://files.grouplens.org/datasets/movielens/ml-1m.zip",
        sha256="a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
        size=5_917_549,
        members=("ml-1m/ratings.dat",),
        root="ml-1m",
        description="MovieLens 1M: 1,000,209 ratings (1-5) by 6,040 users on 3,706 movies.",
        citation=_ML_CITATION,
    ),
    # SHA-256 as published in OmniRec's FilmTrust loader
    # (ISG-Siegen/OmniRec, src/omnirec/data_loaders/filmtrust.py); size not published.
    "filmtrust": Archive(
        url="https://guoguibing.github.io/librec/datasets/filmtrust.zip",
        sha256="de4a55cb4ae26f663d88e9ad1ba1fae2d0d6d7a7499e37dc5245bab470c2d13c",
        size=None,
        members=("ratings.txt",),
        root="",
        description="FilmTrust (LibRec copy): 35,497 ratings (0.5-4) by 1,508 users, 2,071 films.",
        citation=(
            "G. Guo, J. Zhang and N. Yorke-Smith. 2013. A Novel Bayesian Similarity Measure "
            "for Recommender Systems. IJCAI 2013"
        ),
    ),
}

_YELP_MESSAGE = (
    "the Yelp dataset has no public download: obtain it from Yelp under Yelp's licence "
    "(https://www.yelp.com/dataset) and point fastpoison at it with --data-dir"
)


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
    """Make ``<cache_dir>/<name>/`` hold the files of archive ``name``; return that folder.

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
        staging.chmod(0o755)
        _install(staging, target, spec)
    finally:
        part.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
    return target


# ---------------------------------------------------------------------------- helpers
def _spec(name: str) -> Archive:
    if name == "yelp":
        raise DataError(_YELP_MESSAGE)
    try:
        return ARCHIVES[name]
    except KeyError:
        valid = ", ".join(sorted(ARCHIVES))
        raise DataError(
            f"unknown dataset {name!r}; the datasets that can be fetched are: {valid} "
            "(yelp must be obtained by hand)"
        ) from None


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


def _flatten(member: str, root: str) -> str:
    prefix = root + "/" if root else ""
    return member[len(prefix):] if prefix and member.startswith(prefix) else member


def _complete(target: Path, spec: Archive) -> bool:
    return target.is_dir() and all((target / out).is_file() for out in spec.outputs())


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
        f"cannot reach {url} ({reason}); if this machine is offline, download the archive "
        "elsewhere and pass url='file://...', or put the files under --data-dir"
    )


def _member_path(name: str, root: str, source: str) -> str:
    """The safe output path (relative, '/'-separated) of archive member ``name``."""
    norm = name.replace("\\", "/")
    parts = [p for p in norm.split("/") if p not in ("", ".")]
    if norm.startswith("/") or re.match(r"^[A-Za-z]:", norm) or ".." in parts:
        raise DataError(f"archive {source} has a member escaping the target folder: {name!r}")
    return _flatten("/".join(parts), root)


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
