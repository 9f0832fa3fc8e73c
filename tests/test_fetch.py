"""`fastpoison.data.fetch` against a loopback HTTP server serving archives built here."""
from __future__ import annotations

import functools
import hashlib
import io
import re
import socket
import tarfile
import threading
import zipfile
from dataclasses import replace
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from fastpoison.data import fetch as fetch_mod
from fastpoison.data.fetch import Archive, fetch, fetchable
from fastpoison.data.registry import DATASETS
from fastpoison.errors import DataError

U_DATA = b"196\t242\t3\t881250949\n186\t302\t3\t891717742\n"


class Server:
    """A loopback HTTP server over ``root`` that counts the GET requests per path."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.hits: dict[str, int] = {}
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server naming)
                server.hits[self.path] = server.hits.get(self.path, 0) + 1
                super().do_GET()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        handler = functools.partial(Handler, directory=str(root))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def put(self, name: str, data: bytes) -> str:
        """Serve ``data`` as ``/name``; return its URL."""
        (self.root / name).write_bytes(data)
        return self.url(name)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    root = tmp_path / "served"
    root.mkdir()
    srv = Server(root)
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data)
    return buf.getvalue()


def make_tgz(members: list[tarfile.TarInfo], payloads: dict[str, bytes] | None = None) -> bytes:
    payloads = payloads or {}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for info in members:
            data = payloads.get(info.name)
            if data is not None:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def tar_file(name: str) -> tarfile.TarInfo:
    return tarfile.TarInfo(name)


def tar_link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


GOOD_ZIP = make_zip({"ml-100k/": b"", "ml-100k/u.data": U_DATA, "ml-100k/README": b"readme\n"})


def leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


# ------------------------------------------------------------------------- registry
def patch_archive(monkeypatch: pytest.MonkeyPatch, name: str, **changes: object) -> None:
    """Replace fields of dataset ``name``'s archive for one test."""
    record = DATASETS[name]
    monkeypatch.setitem(DATASETS, name, replace(record, archive=replace(record.archive, **changes)))


def test_archives_are_well_formed() -> None:
    assert fetchable() == ["filmtrust", "ml-100k", "ml-1m"]
    archives = {name: DATASETS[name].archive for name in fetchable()}
    for spec in archives.values():
        assert isinstance(spec, Archive)
        assert spec.url.startswith("https://")
        assert spec.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", spec.sha256)
        assert spec.members and spec.description and spec.citation
    assert archives["ml-100k"].outputs() == ("u.data",)
    assert archives["ml-1m"].outputs() == ("ratings.dat",)
    assert archives["filmtrust"].outputs() == ("ratings.txt",)


# ------------------------------------------------------------------------ happy path
def test_good_zip_is_installed_once(server: Server, cache: Path) -> None:
    url = server.put("ml-100k.zip", GOOD_ZIP)
    out = fetch("ml-100k", cache, url=url, sha256=sha(GOOD_ZIP), timeout=5, progress=False)
    assert out == cache / "ml-100k"
    assert (out / "u.data").read_bytes() == U_DATA
    assert (out / "README").read_bytes() == b"readme\n"
    assert leftovers(cache) == ["ml-100k"]  # no temporary files left over
    assert server.hits == {"/ml-100k.zip": 1}

    again = fetch("ml-100k", cache, url=url, sha256=sha(GOOD_ZIP), timeout=5, progress=False)
    assert again == out and server.hits == {"/ml-100k.zip": 1}

    fetch("ml-100k", cache, url=url, sha256=sha(GOOD_ZIP), timeout=5, progress=False, force=True)
    assert server.hits == {"/ml-100k.zip": 2}
    assert leftovers(cache) == ["ml-100k"] and (out / "u.data").read_bytes() == U_DATA


def test_tar_gz_is_recognised_by_content(server: Server, cache: Path) -> None:
    data = make_tgz([tar_file("ml-1m/ratings.dat"), tar_link("ml-1m/alias", "ratings.dat")],
                    {"ml-1m/ratings.dat": b"1::1193::5::978300760\n"})
    url = server.put("ml-1m.zip", data)  # misleading suffix on purpose
    out = fetch("ml-1m", cache, url=url, sha256=sha(data), timeout=5, progress=False)
    assert (out / "ratings.dat").read_bytes() == b"1::1193::5::978300760\n"
    assert not (out / "alias").exists()  # links are checked, never written


def test_archive_without_top_folder(server: Server, cache: Path) -> None:
    data = make_zip({"ratings.txt": b"1 1 2.0\n", "trust.txt": b"2 104 1\n"})
    url = server.put("filmtrust.zip", data)
    out = fetch("filmtrust", cache, url=url, sha256=sha(data), timeout=5)  # with a progress bar
    assert (out / "ratings.txt").read_bytes() == b"1 1 2.0\n"


def test_file_url_mirror(tmp_path: Path, cache: Path) -> None:
    local = tmp_path / "mirror.zip"
    local.write_bytes(GOOD_ZIP)
    out = fetch("ml-100k", cache, url=local.as_uri(), sha256=sha(GOOD_ZIP), progress=False)
    assert (out / "u.data").read_bytes() == U_DATA


def test_pinned_hash_is_used_without_override(server: Server, cache: Path) -> None:
    url = server.put("ml-100k.zip", GOOD_ZIP)
    with pytest.raises(DataError, match=DATASETS["ml-100k"].archive.sha256):
        fetch("ml-100k", cache, url=url, timeout=5, progress=False)
    assert leftovers(cache) == []


# ------------------------------------------------------------------- refused fetches
def test_tampered_archive_is_discarded(server: Server, cache: Path) -> None:
    tampered = bytearray(GOOD_ZIP)
    tampered[40] ^= 0xFF
    url = server.put("ml-100k.zip", bytes(tampered))
    with pytest.raises(DataError, match="SHA-256 mismatch") as err:
        fetch("ml-100k", cache, url=url, sha256=sha(GOOD_ZIP), timeout=5, progress=False)
    message = str(err.value)
    assert url in message and sha(GOOD_ZIP) in message and sha(bytes(tampered)) in message
    assert leftovers(cache) == []


def test_oversized_download_is_cut_off(
    server: Server, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = server.put("ml-100k.zip", GOOD_ZIP)
    patch_archive(monkeypatch, "ml-100k", sha256=sha(GOOD_ZIP), size=len(GOOD_ZIP) - 1)
    with pytest.raises(DataError, match="exceeds"):
        fetch("ml-100k", cache, url=url, timeout=5, progress=False)
    assert leftovers(cache) == []


@pytest.mark.parametrize(
    "evil", ["../evil.txt", "ml-100k/../../evil.txt", "..\\evil.txt", "ABSOLUTE"]
)
def test_zip_member_escaping_is_refused(
    server: Server, cache: Path, tmp_path: Path, evil: str
) -> None:
    if evil == "ABSOLUTE":
        evil = (tmp_path / "abs_evil.txt").as_posix()
    data = make_zip({"ml-100k/u.data": U_DATA, evil: b"pwned\n"})
    assert evil in zipfile.ZipFile(io.BytesIO(data)).namelist()
    url = server.put("evil.zip", data)
    with pytest.raises(DataError, match="escaping") as err:
        fetch("ml-100k", cache, url=url, sha256=sha(data), timeout=5, progress=False)
    assert repr(evil) in str(err.value)
    assert leftovers(cache) == []
    assert not list(tmp_path.rglob("*evil.txt"))


@pytest.mark.parametrize("link", [
    tar_link("ml-100k/u.data", "../../outside.txt"),
    tar_link("ml-100k/u.data", "/etc/passwd"),
    tar_link("ml-100k/u.data", "../outside.txt", kind=tarfile.LNKTYPE),
])
def test_tar_link_pointing_outside_is_refused(
    server: Server, cache: Path, tmp_path: Path, link: tarfile.TarInfo
) -> None:
    data = make_tgz([tar_file("ml-100k/README"), link], {"ml-100k/README": b"readme\n"})
    url = server.put("evil.tar.gz", data)
    with pytest.raises(DataError, match="link escaping"):
        fetch("ml-100k", cache, url=url, sha256=sha(data), timeout=5, progress=False)
    assert leftovers(cache) == []
    assert not [p for p in tmp_path.rglob("*") if p.is_symlink()]


def test_tar_member_escaping_is_refused(server: Server, cache: Path, tmp_path: Path) -> None:
    data = make_tgz([tar_file("ml-100k/u.data"), tar_file("../evil.txt")],
                    {"ml-100k/u.data": U_DATA, "../evil.txt": b"pwned\n"})
    url = server.put("evil.tar.gz", data)
    with pytest.raises(DataError, match="escaping"):
        fetch("ml-100k", cache, url=url, sha256=sha(data), timeout=5, progress=False)
    assert not list(tmp_path.rglob("evil.txt")) and leftovers(cache) == []


@pytest.mark.parametrize("kind", ["zip", "tgz", "junk"])
def test_corrupt_archive_is_refused(server: Server, cache: Path, kind: str) -> None:
    if kind == "zip":
        data = GOOD_ZIP[: len(GOOD_ZIP) // 2]
    elif kind == "tgz":
        big = bytes(range(256)) * 4096  # incompressible enough to make a long stream
        full = make_tgz([tar_file("ml-100k/u.data")], {"ml-100k/u.data": big})
        data = full[: len(full) // 2]
    else:
        data = b"this is not an archive at all\n"
    url = server.put("broken.zip", data)
    with pytest.raises(DataError, match="corrupt"):
        fetch("ml-100k", cache, url=url, sha256=sha(data), timeout=5, progress=False)
    assert leftovers(cache) == []


def test_missing_member_is_refused(server: Server, cache: Path) -> None:
    data = make_zip({"ml-100k/u.item": b"1|Toy Story\n"})
    url = server.put("partial.zip", data)
    with pytest.raises(DataError, match="ml-100k/u.data"):
        fetch("ml-100k", cache, url=url, sha256=sha(data), timeout=5, progress=False)
    assert leftovers(cache) == []


def test_incomplete_copy_is_replaced(server: Server, cache: Path) -> None:
    (cache / "ml-100k").mkdir(parents=True)
    (cache / "ml-100k" / "stale").write_text("x")
    url = server.put("ml-100k.zip", GOOD_ZIP)
    out = fetch("ml-100k", cache, url=url, sha256=sha(GOOD_ZIP), timeout=5, progress=False)
    assert (out / "u.data").is_file() and not (out / "stale").exists()
    assert leftovers(cache) == ["ml-100k"]


def test_a_truncated_cached_copy_is_refetched_and_never_loaded(server: Server, cache: Path) -> None:
    from fastpoison.data.datasets import load_dataset
    from fastpoison.errors import DataError
    url = server.put("ml-100k.zip", GOOD_ZIP)
    out = fetch("ml-100k", cache, url=url, sha256=sha(GOOD_ZIP), timeout=5, progress=False)
    (out / "u.data").write_bytes(U_DATA[: len(U_DATA) // 2])  # cut short after the fetch
    with pytest.raises(DataError, match="changed since fetch installed them"):
        load_dataset("ml-100k", cache, require_real=True)
    fetch("ml-100k", cache, url=url, sha256=sha(GOOD_ZIP), timeout=5, progress=False)  # not trusted: fetched again
    assert server.hits == {"/ml-100k.zip": 2} and (out / "u.data").read_bytes() == U_DATA
    assert load_dataset("ml-100k", cache, require_real=True).data_source == "real"


# ---------------------------------------------------------------- network and names
def test_http_404(server: Server, cache: Path) -> None:
    url = server.url("nowhere.zip")
    with pytest.raises(DataError, match="HTTP 404") as err:
        fetch("ml-100k", cache, url=url, sha256=sha(GOOD_ZIP), timeout=5, progress=False)
    assert url in str(err.value) and "\n" not in str(err.value)
    assert leftovers(cache) == []


def test_unreachable_host_says_offline(cache: Path) -> None:
    with socket.socket() as sock:  # reserve a loopback port, then free it: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DataError, match="offline"):
        fetch("ml-100k", cache, url=f"http://127.0.0.1:{port}/x.zip", sha256=sha(GOOD_ZIP),
              timeout=5, progress=False)
    assert leftovers(cache) == []


def test_unknown_name_lists_valid_names(cache: Path) -> None:
    with pytest.raises(DataError) as err:
        fetch("netflix", cache)
    for name in fetchable():
        assert name in str(err.value)
    assert not cache.exists()


def test_yelp_must_be_obtained_by_hand(cache: Path) -> None:
    with pytest.raises(DataError, match="licence") as err:
        fetch("yelp", cache)
    assert "--data-dir" in str(err.value)


def test_unpublished_hash_needs_explicit_sha256(
    server: Server, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    patch_archive(monkeypatch, "ml-100k", sha256=None)
    url = server.put("ml-100k.zip", GOOD_ZIP)
    with pytest.raises(DataError, match="sha256="):
        fetch("ml-100k", cache, url=url, timeout=5, progress=False)
    assert server.hits == {}
    out = fetch("ml-100k", cache, url=url, sha256=sha(GOOD_ZIP).upper(), timeout=5, progress=False)
    assert (out / "u.data").is_file()


@pytest.mark.parametrize("bad", ["abc", "z" * 64])
def test_malformed_sha256_is_refused(cache: Path, bad: str) -> None:
    with pytest.raises(DataError, match="64 hexadecimal"):
        fetch("ml-100k", cache, url="http://127.0.0.1:9/x.zip", sha256=bad)


def test_unsupported_scheme_is_refused(cache: Path) -> None:
    with pytest.raises(DataError, match="http, https or file"):
        fetch("ml-100k", cache, url="ftp://127.0.0.1/x.zip", sha256=sha(GOOD_ZIP))


def test_default_cache_dir_is_used(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    url = server.put("ml-100k.zip", GOOD_ZIP)
    out = fetch_mod.fetch("ml-100k", url=url, sha256=sha(GOOD_ZIP), timeout=5, progress=False)
    assert out == tmp_path / "xdg" / "fastpoison" / "ml-100k"
