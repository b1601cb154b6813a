"""Buckets and stores through fsspec: listing, reading, atomic and exclusive writes.

A :class:`Storage` is a root (a local folder, ``s3://bucket/prefix``…) plus keys relative to it.
Writes are atomic: a local file is written beside its target and renamed over it; an object
store gets one PUT. Exclusive create and compare-and-swap use ``link()``/``flock`` locally and
conditional PUTs (``If-None-Match: *``, ``If-Match: <etag>``) on S3-compatible stores; stores
without conditional writes get a write-then-read-back fallback (best effort, see README).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import posixpath
import re
import stat
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, unquote

from clova_etl.config import PipelineConfig, StorageConfig
from clova_etl.cores import available_cores
from clova_etl.pipeline.errors import NotRegularFileError, StorageError, UnsafeKeyError

# How long the no-conditional-writes fallback waits before reading its write back.
_FALLBACK_SETTLE_SECONDS = 0.2

# Threads for many independent reads or writes on an object store at once (planning, object
# states): each waits on its own round trip, so two per core.
IO_THREADS = min(8, 2 * available_cores())

# The in-flight atomic writes of this module (``.<name>.<uuid4 hex>.tmp``), never listed.
_OWN_TMP = re.compile(r"^\..+\.[0-9a-f]{32}\.tmp$")

# What ``lstat`` says a local entry is; only "file" (and "link", refused) are documents.
_KINDS = (
    (stat.S_ISREG, "file"),
    (stat.S_ISLNK, "link"),
    (stat.S_ISFIFO, "fifo"),
    (stat.S_ISSOCK, "socket"),
    (stat.S_ISCHR, "device"),
    (stat.S_ISBLK, "device"),
    (stat.S_ISDIR, "directory"),
)


def file_kind(mode: int) -> str:
    """``file``, ``link``, ``fifo``, ``socket``, ``device``, ``directory`` or ``other``."""
    return next((name for test, name in _KINDS if test(mode)), "other")


@dataclass(frozen=True)
class ObjectInfo:
    """One object as listed: key relative to the root, size, last-modified time, version tag."""

    key: str
    uri: str
    size: int
    last_modified: datetime
    etag: str | None = None
    is_link: bool = False
    kind: str = "file"

    @property
    def version(self) -> str:
        """A tag that changes whenever the object is rewritten."""
        stamp = self.last_modified.isoformat()
        return hashlib.sha256(f"{self.etag}|{self.size}|{stamp}".encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (XCom)."""
        out = asdict(self)
        out["last_modified"] = self.last_modified.isoformat()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ObjectInfo:
        """Inverse of :meth:`to_dict`."""
        lm = data["last_modified"]
        return cls(
            key=data["key"],
            uri=data["uri"],
            size=int(data["size"]),
            last_modified=datetime.fromisoformat(lm) if isinstance(lm, str) else lm,
            etag=data.get("etag"),
            is_link=bool(data.get("is_link", False)),
            kind=str(data.get("kind", "file")),
        )


def _utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str):
        return _utc(datetime.fromisoformat(value))
    raise StorageError(f"object has no usable last-modified time: {value!r}")


def check_key(key: str) -> str:
    """Normalise a key ('/'-separated, relative); refuse absolute keys and ``..`` segments."""
    if not key or "\x00" in key:
        raise UnsafeKeyError(f"invalid key {key!r}")
    key = key.replace("\\", "/") if os.sep == "\\" else key
    if key.startswith("/"):
        raise UnsafeKeyError(f"absolute key refused: {key!r}")
    parts = [p for p in key.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise UnsafeKeyError(f"key escapes the root: {key!r}")
    if not parts:
        raise UnsafeKeyError(f"invalid key {key!r}")
    return "/".join(parts)


def check_object_key(key: str) -> str:
    """An object-store key, verbatim: ``//``, ``.``/``..`` segments, spaces and ``%`` are kept.

    A bucket key is an identity, not a path: ``a//b.png`` and ``a/./b.png`` are other objects
    than ``a/b.png`` and nothing can escape the bucket through ``..``. Only what cannot be
    named safely is refused: the empty key and keys with a NUL byte.
    """
    if not key or "\x00" in key:
        raise UnsafeKeyError(f"invalid key {key!r}: empty or with a NUL byte")
    return key


def encode_key(key: str) -> str:
    """The key as a URI path: percent-encoded, ``/`` kept; :func:`decode_key` gives it back."""
    return quote(key, safe="/")


def decode_key(path: str) -> str:
    """Inverse of :func:`encode_key`."""
    return unquote(path)


class Storage:
    """A root in some fsspec filesystem, with the few operations the pipeline needs."""

    def __init__(
        self, fs: Any, root: str, *, protocol: str, conditional_writes: bool = True
    ) -> None:
        self.fs = fs
        self.root = root.rstrip("/") if root not in ("/", "") else root
        self.protocol = protocol
        self.is_local = protocol in ("file", "local")
        self.conditional_writes = conditional_writes

    @classmethod
    def open(cls, config: StorageConfig) -> Storage:
        """The storage a config section points at."""
        from fsspec.core import url_to_fs

        opts = config.storage_options()
        uri = config.uri
        if "://" not in uri:
            # A plain path is a local folder.
            return cls.local(uri)
        fs, root = url_to_fs(uri, **opts)
        protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
        if protocol in ("file", "local"):
            return cls.local(root)
        return cls(fs, root, protocol=protocol, conditional_writes=config.conditional_writes)

    @classmethod
    def local(cls, path: str | os.PathLike[str]) -> Storage:
        """A local folder (created if missing)."""
        from fsspec.implementations.local import LocalFileSystem

        root = Path(path).expanduser().resolve()
        root.mkdir(parents=True, exist_ok=True)
        return cls(LocalFileSystem(), str(root), protocol="file")

    # -- naming -------------------------------------------------------------------------------

    def check(self, key: str) -> str:
        """The key as this store names it: normalised locally, verbatim on object stores."""
        return check_key(key) if self.is_local else check_object_key(key)

    @property
    def uri(self) -> str:
        """URI of the root (no credentials)."""
        if self.is_local:
            return Path(self.root).as_uri()
        return f"{self.protocol}://{self.root}"

    def uri_for(self, key: str) -> str:
        """URI of a key (no credentials): a valid URI, the key percent-encoded."""
        return f"{self.uri.rstrip('/')}/{encode_key(self.check(key))}"

    def key_for(self, uri: str) -> str:
        """Key of a URI under this root (the inverse of :meth:`uri_for`); also takes a key."""
        base = self.uri.rstrip("/") + "/"
        if uri.startswith(base):
            return self.check(decode_key(uri[len(base) :]))
        if "://" in uri:
            raise UnsafeKeyError(f"{uri} is not under {self.uri}")
        return self.check(uri)

    def _path(self, key: str) -> str:
        key = self.check(key)
        # Joined by hand: posixpath.join would drop the root before a key starting with "/".
        return f"{self.root}/{key}" if self.root else key

    def local_path(self, key: str) -> Path:
        """Local file of a key, refusing symlinks and anything outside the root."""
        if not self.is_local:
            raise StorageError(f"{self.uri} is not a local folder")
        root = Path(self.root)
        path = root / check_key(key)
        # Walk the components so that a symlinked folder cannot smuggle a path out of the root.
        current = root
        for part in path.relative_to(root).parts:
            current = current / part
            if current.is_symlink():
                raise UnsafeKeyError(f"symlink refused: {key!r}")
        return path

    # -- reading ------------------------------------------------------------------------------

    def list_objects(self, prefix: str = "") -> list[ObjectInfo]:
        """Every object under ``prefix`` (recursive), sorted by key."""
        prefix = prefix.strip("/")
        if self.is_local:
            return sorted(self._list_local(prefix), key=lambda o: o.key)
        base = posixpath.join(self.root, prefix) if prefix else self.root
        with contextlib.suppress(Exception):
            self.fs.invalidate_cache(base)
        try:
            found = self.fs.find(base, detail=True, withdirs=False)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StorageError(f"cannot list {self.uri}/{prefix}: {exc}") from exc
        out = []
        for path, info in found.items():
            # Cut exactly the root and its separator: a key may itself start with "/".
            key = path[len(self.root) + 1 :] if self.root else path
            if not key or info.get("type") == "directory" or key.endswith("/"):
                continue
            out.append(self._info_from(key, info))
        return sorted(out, key=lambda o: o.key)

    def _info_from(self, key: str, info: dict[str, Any]) -> ObjectInfo:
        lm = info.get("LastModified") or info.get("last_modified") or info.get("mtime")
        etag = info.get("ETag") or info.get("etag")
        try:
            uri = self.uri_for(key)
        except UnsafeKeyError:
            # Listed as it is, it is refused when read (recorded as unsafe_path) instead of
            # failing the listing of every other object.
            uri = f"{self.uri.rstrip('/')}/{encode_key(key)}"
        return ObjectInfo(
            key=key,
            uri=uri,
            size=int(info.get("size") or info.get("Size") or 0),
            last_modified=_utc(lm),
            etag=str(etag).strip('"') if etag else None,
        )

    def _local_files(self, prefix: str) -> Iterator[tuple[Path, str]]:
        """(path, key) of every local file under ``prefix``, symlinks included, not entered."""
        root = Path(self.root)
        start = root / check_key(prefix) if prefix else root
        if start.is_symlink() or not start.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(start, followlinks=False):
            here = Path(dirpath)
            folder = here.relative_to(root).as_posix()
            # Symlinked folders are not entered, but they are reported so they can be refused.
            names = filenames + [d for d in dirnames if (here / d).is_symlink()]
            for name in names:
                if _OWN_TMP.match(name):
                    continue  # our own in-flight atomic writes
                yield here / name, name if folder == "." else f"{folder}/{name}"

    def _list_local(self, prefix: str) -> Iterator[ObjectInfo]:
        for path, key in self._local_files(prefix):
            info = self._local_info(path, key)
            if info is not None:
                yield info

    def _local_info(self, path: Path, key: str) -> ObjectInfo | None:
        """A local file's metadata (of the link itself for a symlink); None if it is gone.

        The version tag holds the inode and ctime besides mtime and size: an edit in place
        that keeps the size and puts mtime back still changes ctime (which no user can set).
        """
        try:
            st = path.lstat()
        except FileNotFoundError:
            return None
        kind = file_kind(st.st_mode)
        return ObjectInfo(
            key=key,
            uri=self.uri_for(key),
            size=st.st_size,
            last_modified=datetime.fromtimestamp(st.st_mtime_ns / 1e9, tz=UTC),
            etag=f"{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_ctime_ns:x}-{st.st_size:x}",
            is_link=kind == "link",
            kind=kind,
        )

    def list_keys(self, prefix: str) -> list[str]:
        """Keys under ``prefix`` (recursive), sorted, without their metadata."""
        if self.is_local:
            return sorted(key for _, key in self._local_files(prefix.strip("/")))
        return [o.key for o in self.list_objects(prefix)]

    def info(self, key: str) -> ObjectInfo | None:
        """The object's metadata, or None if it does not exist."""
        if self.is_local:
            key = check_key(key)
            return self._local_info(Path(self.root) / key, key)
        path = self._path(key)
        with contextlib.suppress(Exception):
            self.fs.invalidate_cache(path)
        try:
            info = self.fs.info(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"cannot stat {self.uri_for(key)}: {exc}") from exc
        if info.get("type") == "directory":
            return None
        return self._info_from(self.check(key), info)

    def exists(self, key: str) -> bool:
        """Whether the object exists."""
        return self.info(key) is not None

    def read(self, key: str) -> bytes:
        """The object's bytes (symlinks refused locally)."""
        if self.is_local:
            return self._read_local(key)
        try:
            data: bytes = self.fs.cat_file(self._path(key))
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise StorageError(f"cannot read {self.uri_for(key)}: {exc}") from exc
        return data

    def _read_local(self, key: str) -> bytes:
        """A local regular file's bytes; anything else is refused without blocking.

        O_NONBLOCK: opening a FIFO without a writer would otherwise wait forever; the opened
        descriptor is then checked to be a regular file before a single byte is read.
        """
        path = self.local_path(key)
        flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            raise
        except OSError as exc:
            if exc.errno in (errno.ENXIO, errno.ELOOP):  # a socket, or a symlink swapped in
                raise NotRegularFileError(f"{self.uri_for(key)} is not a regular file") from exc
            raise StorageError(f"cannot read {self.uri_for(key)}: {exc}") from exc
        try:
            kind = file_kind(os.fstat(fd).st_mode)
            if kind != "file":
                raise NotRegularFileError(f"{self.uri_for(key)} is a {kind}, not a regular file")
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
            return b"".join(chunks)
        except OSError as exc:
            raise StorageError(f"cannot read {self.uri_for(key)}: {exc}") from exc
        finally:
            os.close(fd)

    def read_if_exists(self, key: str) -> bytes | None:
        """The object's bytes, or None if it does not exist."""
        try:
            return self.read(key)
        except FileNotFoundError:
            return None

    # -- writing ------------------------------------------------------------------------------

    def _local_tmp(self, key: str) -> tuple[Path, Path]:
        path = self.local_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        return path, tmp

    @staticmethod
    def _write_tmp(tmp: Path, data: bytes, *, durable: bool = True) -> None:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, data) if data else None
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)

    def write(self, key: str, data: bytes, *, durable: bool = True) -> None:
        """Write atomically: readers see the old object or the whole new one, never a part.

        ``durable=False`` skips the local fsync, for what can be rebuilt (a cache): a power
        loss may then lose the write, never tear it.
        """
        if self.is_local:
            path, tmp = self._local_tmp(key)
            try:
                self._write_tmp(tmp, data, durable=durable)
                os.replace(tmp, path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
            return
        try:
            self.fs.pipe_file(self._path(key), data)
        except OSError as exc:
            raise StorageError(f"cannot write {self.uri_for(key)}: {exc}") from exc

    def write_many(self, items: Iterable[tuple[str, bytes]]) -> None:
        """:meth:`write` each ``(key, data)``; locally with one flush for the lot.

        Every temporary file is written, the filesystem is flushed once (``syncfs``), the files
        are renamed into place, and it is flushed once more: the same guarantee as one
        :meth:`write` each (a crash leaves each object old or whole and new), at the cost of
        two flushes instead of one fsync per object. On an object store: several at a time.
        """
        if not self.is_local:
            io_map(lambda item: self.write(*item), items, name="writes")
            return
        staged: list[tuple[Path, Path]] = []
        try:
            for key, data in items:
                path, tmp = self._local_tmp(key)
                staged.append((tmp, path))
                self._write_tmp(tmp, data, durable=False)
            _flush(Path(self.root), [tmp for tmp, _ in staged])
            for tmp, path in staged:
                os.replace(tmp, path)
            _flush(Path(self.root), [path.parent for _, path in staged])
        finally:
            for tmp, _ in staged:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()

    def create(self, key: str, data: bytes, *, durable: bool = True) -> bool:
        """Create the object only if absent (atomically); False when it already exists.

        ``durable`` as for :meth:`write`.
        """
        if self.is_local:
            path, tmp = self._local_tmp(key)
            try:
                self._write_tmp(tmp, data, durable=durable)
                # link() fails if the target exists, and the target appears with its full content.
                os.link(tmp, path)
                return True
            except FileExistsError:
                return False
            finally:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
        remote = self._path(key)
        if self.conditional_writes and self.protocol in ("s3", "s3a"):
            try:
                self.fs.pipe_file(remote, data, mode="create")
                return True
            except FileExistsError:
                return False
            except OSError as exc:
                if _precondition_failed(exc):
                    return False
                raise StorageError(f"cannot create {self.uri_for(key)}: {exc}") from exc
        return self._create_fallback(key, data)

    def _create_fallback(self, key: str, data: bytes) -> bool:
        # Without conditional writes two racers can both see "absent"; the read-back after a
        # short pause makes the later writer win consistently, and the loser sees it lost.
        if self.exists(key):
            return False
        self.fs.pipe_file(self._path(key), data)
        time.sleep(_FALLBACK_SETTLE_SECONDS)
        return self.read_if_exists(key) == data

    def replace_if(
        self, key: str, data: bytes, expected_etag: str | None, *, durable: bool = True
    ) -> bool:
        """Replace the object only if it is still the version ``expected_etag`` names.

        ``durable`` as for :meth:`write`.
        """
        if self.is_local:
            self.local_path(key)  # refuses symlinks and escapes
            with self._local_lock(key):
                current = self.info(key)
                if current is None or current.etag != expected_etag:
                    return False
                self.write(key, data, durable=durable)
                return True
        path_s = self._path(key)
        if self.conditional_writes and self.protocol in ("s3", "s3a") and expected_etag:
            try:
                self.fs.pipe_file(path_s, data, IfMatch=f'"{expected_etag}"')
                return True
            except (FileExistsError, FileNotFoundError):
                return False
            except OSError as exc:
                if _precondition_failed(exc):
                    return False
                raise StorageError(f"cannot replace {self.uri_for(key)}: {exc}") from exc
        current = self.info(key)
        if current is None or current.etag != expected_etag:
            return False
        self.fs.pipe_file(path_s, data)
        time.sleep(_FALLBACK_SETTLE_SECONDS)
        return self.read_if_exists(key) == data

    @contextlib.contextmanager
    def _local_lock(self, key: str) -> Iterator[None]:
        locks = Path(self.root) / ".locks"
        locks.mkdir(exist_ok=True)
        name = hashlib.sha256(self.check(key).encode()).hexdigest()[:32]
        fd = os.open(locks / name, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def delete(self, key: str) -> None:
        """Remove the object (absent is fine)."""
        if self.is_local:
            with contextlib.suppress(FileNotFoundError):
                self.local_path(key).unlink()
            return
        try:
            self.fs.rm_file(self._path(key))
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StorageError(f"cannot delete {self.uri_for(key)}: {exc}") from exc

    def remove_empty_folders(self, prefix: str) -> None:
        """Remove the empty folders under ``prefix`` and ``prefix`` itself if it ends empty.

        Object stores have no folders: nothing to do there.
        """
        if not self.is_local:
            return
        top = self.local_path(prefix)
        if top.is_symlink() or not top.is_dir():
            return
        for dirpath, _, _ in sorted(os.walk(top, followlinks=False), reverse=True):
            with contextlib.suppress(OSError):  # not empty (a file landed meanwhile): keep it
                os.rmdir(dirpath)

    def __repr__(self) -> str:
        return f"Storage({self.uri!r})"


def _precondition_failed(exc: BaseException) -> bool:
    """Whether an fsspec error wraps an HTTP 412/409 (a conditional write that lost)."""
    seen: BaseException | None = exc
    while seen is not None:
        response = getattr(seen, "response", None)
        if isinstance(response, dict):
            code = str(response.get("Error", {}).get("Code", ""))
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in {"PreconditionFailed", "ConditionalRequestConflict"} or status in {
                409,
                412,
            }:
                return True
        seen = seen.__cause__ or seen.__context__
    return isinstance(exc, OSError) and exc.errno == errno.EEXIST


def open_source(config: PipelineConfig) -> Storage:
    """The bucket documents are read from."""
    return Storage.open(config.source)


_T = TypeVar("_T")
_R = TypeVar("_R")


def io_map(work: Callable[[_T], _R], items: Iterable[_T], *, name: str) -> list[_R]:
    """``[work(item) for item in items]``, in order, on :data:`IO_THREADS` threads."""
    with ThreadPoolExecutor(IO_THREADS, thread_name_prefix=f"clova-etl-{name}") as pool:
        return list(pool.map(work, items))


def _syncfs() -> Callable[[int], int] | None:
    """Linux's syncfs(2) (flush one filesystem), or None where the C library has none."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        function: Callable[[int], int] = libc.syncfs
    except (OSError, AttributeError):
        return None
    return function


_SYNCFS = _syncfs() if os.name == "posix" else None


def _flush(root: Path, paths: Iterable[Path]) -> None:
    """Make the writes under ``root`` durable: one syncfs, else an fsync per path."""
    if _SYNCFS is not None:
        fd = os.open(root, os.O_RDONLY)
        try:
            if _SYNCFS(fd) == 0:
                return
        finally:
            os.close(fd)
    for path in dict.fromkeys(paths):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


__all__ = [
    "ObjectInfo",
    "Storage",
    "check_key",
    "check_object_key",
    "decode_key",
    "encode_key",
    "file_kind",
    "io_map",
    "open_source",
]
