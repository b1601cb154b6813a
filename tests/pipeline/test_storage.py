"""Storage on a local folder and on a real S3-compatible server (moto)."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from clova_etl.config import StorageConfig
from clova_etl.pipeline.errors import UnsafeKeyError
from clova_etl.pipeline.storage import Storage, check_key

KEYS = ["inbox/general/a.jpg", "inbox/general/스캔 파일 (1).png", "inbox/x y/z+1%.pdf"]


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return Storage.open(StorageConfig(uri=str(tmp_path / "root")))
    bucket: Any = request.getfixturevalue("s3_bucket")
    return Storage.open(bucket.config("some/prefix"))


def test_write_read_list(storage: Storage) -> None:
    before = datetime.now(UTC) - timedelta(seconds=2)
    for i, key in enumerate(KEYS):
        storage.write(key, f"data-{i}".encode())
    listed = storage.list_objects("inbox")
    assert [o.key for o in listed] == sorted(KEYS)
    for obj in listed:
        assert obj.last_modified.tzinfo is not None
        assert obj.last_modified.utcoffset() == timedelta(0)
        assert before <= obj.last_modified <= datetime.now(UTC) + timedelta(seconds=2)
        assert obj.size == len(b"data-0")
        assert obj.uri == storage.uri_for(obj.key)
        assert storage.key_for(obj.uri) == obj.key
        assert obj.etag
    assert storage.read(KEYS[1]) == b"data-1"
    assert storage.list_objects("nothing-here") == []
    assert storage.read_if_exists("inbox/missing") is None
    info = storage.info(KEYS[2])
    assert info is not None and info.key == KEYS[2]


def test_overwrite_changes_version(storage: Storage) -> None:
    storage.write("k.json", b"one")
    first = storage.info("k.json")
    storage.write("k.json", b"two!")
    second = storage.info("k.json")
    assert first is not None and second is not None
    assert first.version != second.version
    assert storage.read("k.json") == b"two!"


def test_create_is_exclusive(storage: Storage) -> None:
    assert storage.create("claims/a.json", b"mine")
    assert not storage.create("claims/a.json", b"yours")
    assert storage.read("claims/a.json") == b"mine"
    storage.delete("claims/a.json")
    storage.delete("claims/a.json")  # absent is fine
    assert storage.create("claims/a.json", b"again")


def test_replace_if_is_compare_and_swap(storage: Storage) -> None:
    storage.write("c.json", b"v1")
    info = storage.info("c.json")
    assert info is not None
    assert storage.replace_if("c.json", b"v2", info.etag)
    assert not storage.replace_if("c.json", b"v3", info.etag)  # stale version
    assert storage.read("c.json") == b"v2"


def test_racing_creates_have_one_winner(storage: Storage) -> None:
    wins: list[int] = []
    barrier = threading.Barrier(8)

    def race(i: int) -> None:
        barrier.wait()
        if storage.create("race.json", str(i).encode()):
            wins.append(i)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    assert storage.read("race.json") == str(wins[0]).encode()


@pytest.mark.parametrize("key", ["../x", "a/../../x", "/etc/passwd", "", "a/\x00"])
def test_unsafe_keys_refused(key: str) -> None:
    with pytest.raises(UnsafeKeyError):
        check_key(key)


def test_local_symlinks_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(b"\xff\xd8\xffsecret")
    root = tmp_path / "root"
    (root / "inbox").mkdir(parents=True)
    os.symlink(outside / "secret.jpg", root / "inbox" / "link.jpg")
    os.symlink(outside, root / "inbox" / "linkdir")
    (root / "inbox" / "ok.jpg").write_bytes(b"ok")
    storage = Storage.local(root)
    listed = {o.key: o for o in storage.list_objects("inbox")}
    # Links are reported (so they can be recorded as refused) but never followed.
    assert set(listed) == {"inbox/link.jpg", "inbox/linkdir", "inbox/ok.jpg"}
    assert listed["inbox/link.jpg"].is_link and listed["inbox/linkdir"].is_link
    assert not listed["inbox/ok.jpg"].is_link
    with pytest.raises(UnsafeKeyError):
        storage.read("inbox/link.jpg")
    with pytest.raises(UnsafeKeyError):
        storage.read("inbox/linkdir/secret.jpg")
    with pytest.raises(UnsafeKeyError):
        storage.read("../outside/secret.jpg")
    assert storage.read("inbox/ok.jpg") == b"ok"


def test_local_write_is_atomic_for_readers(tmp_path: Path) -> None:
    storage = Storage.local(tmp_path)
    big_a, big_b = b"a" * 2_000_000, b"b" * 2_000_000
    storage.write("env.json", big_a)
    stop = threading.Event()
    seen: set[bytes] = set()

    def reader() -> None:
        while not stop.is_set():
            data = storage.read("env.json")
            seen.add(data[:1] + data[-1:] + str(len(data)).encode())

    t = threading.Thread(target=reader)
    t.start()
    for i in range(30):
        storage.write("env.json", big_a if i % 2 else big_b)
    stop.set()
    t.join()
    assert seen <= {b"aa2000000", b"bb2000000"}
    # No temporary files are left behind, and listing never shows them.
    assert [p.name for p in tmp_path.iterdir() if p.name != ".locks"] == ["env.json"]


def test_open_plain_path_and_file_uri(tmp_path: Path) -> None:
    a = Storage.open(StorageConfig(uri=str(tmp_path / "a")))
    b = Storage.open(StorageConfig(uri=(tmp_path / "b").as_uri()))
    assert a.is_local and b.is_local
    a.write("x", b"1")
    assert (tmp_path / "a" / "x").read_bytes() == b"1"
    assert b.uri == (tmp_path / "b").as_uri()


@pytest.mark.parametrize("syncfs", [True, False], ids=["syncfs", "fsync-each"])
def test_write_many_writes_each_atomically_with_one_flush(
    storage: Storage, syncfs: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import clova_etl.pipeline.storage as storage_module

    flushed: list[int] = []
    real = storage_module._SYNCFS
    if syncfs and real is None:
        pytest.skip("no syncfs(2) in this C library (not Linux)")

    def counted(fd: int) -> int:
        flushed.append(fd)
        assert real is not None
        return real(fd)

    monkeypatch.setattr(storage_module, "_SYNCFS", counted if syncfs else None)
    storage.write(KEYS[0], b"old")
    storage.write_many((key, f"new-{i}".encode()) for i, key in enumerate(KEYS))
    assert [storage.read(key) for key in KEYS] == [f"new-{i}".encode() for i in range(3)]
    assert [o.key for o in storage.list_objects("")] == sorted(KEYS)  # no temporary files
    if storage.is_local:
        # Two flushes for the lot (the data, then the renames), not one per object.
        assert len(flushed) == (2 if syncfs else 0)
        leftovers = [p for p in Path(storage.root).rglob("*.tmp")]
        assert leftovers == []
