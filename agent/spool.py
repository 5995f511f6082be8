"""A bounded, crash-safe on-disk queue of encoded OTLP requests (oldest first)."""

from __future__ import annotations

import os
import struct
import threading
import zlib
from pathlib import Path

from .errors import ConfigurationError

__all__ = ["Spool"]

MAGIC = b"IWSP1"
HEADER = struct.Struct("<5sII")  # magic, payload length, crc32 of payload
SUFFIX = ".iwsp"


class Spool:
    """Files `<seq>.iwsp` in one directory, each written to a temp file, fsync'ed and renamed."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = Path(directory)
        self.max_bytes = int(max_bytes)
        self.dropped = 0  # windows removed to respect max_bytes
        self.corrupt = 0  # torn or unreadable files skipped
        self._lock = threading.Lock()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(f"cannot create spool_dir {str(self.directory)!r}: {exc.strerror} — "
                                     "point INFERWATCH_SPOOL_DIR at a writable directory, or set "
                                     "spool_max_mb=0 to run without a spool") from None
        self._lock_file = self._acquire_directory()
        for leftover in self.directory.glob("*.tmp"):  # a write torn by a crash
            leftover.unlink(missing_ok=True)
            self.corrupt += 1
        self._files: dict[int, int] = {}
        for path in self.directory.glob("*" + SUFFIX):
            try:
                self._files[int(path.stem)] = path.stat().st_size
            except (ValueError, OSError):
                continue
        self._next = max(self._files, default=0) + 1

    def _acquire_directory(self):
        path = self.directory / ".lock"
        try:
            handle = open(path, "a+")
        except OSError as exc:
            raise ConfigurationError(f"spool_dir {str(self.directory)!r} is not writable ({exc.strerror}) — "
                                     "point INFERWATCH_SPOOL_DIR at a writable directory") from None
        try:
            import fcntl
        except ImportError:  # Windows: no advisory lock
            return handle
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise ConfigurationError(
                f"spool_dir {str(self.directory)!r} is in use by another process — give each process its "
                "own spool, e.g. INFERWATCH_SPOOL_DIR=/var/lib/app/spool-$WORKER_ID") from None
        return handle

    def close(self) -> None:
        """Release the directory lock."""
        try:
            self._lock_file.close()
        except OSError:
            pass

    @property
    def total_bytes(self) -> int:
        return sum(self._files.values())

    def __len__(self) -> int:
        return len(self._files)

    def _path(self, seq: int) -> Path:
        return self.directory / f"{seq:016d}{SUFFIX}"

    def put(self, payload: bytes) -> bool:
        """Append one request durably; drop the oldest past the cap. False if it cannot be stored."""
        size = HEADER.size + len(payload)
        if size > self.max_bytes:
            self.dropped += 1
            return False
        with self._lock:
            while self._files and self.total_bytes + size > self.max_bytes:
                oldest = min(self._files)
                self._path(oldest).unlink(missing_ok=True)
                del self._files[oldest]
                self.dropped += 1
            seq = self._next
            self._next += 1
            final = self._path(seq)
            tmp = final.with_suffix(".tmp")
            try:
                with open(tmp, "wb") as f:
                    f.write(HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)))
                    f.write(payload)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, final)
                _fsync_dir(self.directory)
            except OSError:
                tmp.unlink(missing_ok=True)
                self.dropped += 1
                return False
            self._files[seq] = size
            return True

    def oldest(self) -> tuple[int, bytes] | None:
        """The oldest intact request as (id, payload); torn files are deleted and counted."""
        with self._lock:
            while self._files:
                seq = min(self._files)
                payload = self._read(seq)
                if payload is not None:
                    return seq, payload
                self._path(seq).unlink(missing_ok=True)
                del self._files[seq]
                self.corrupt += 1
            return None

    def _read(self, seq: int) -> bytes | None:
        try:
            data = self._path(seq).read_bytes()
        except OSError:
            return None
        if len(data) < HEADER.size:
            return None
        magic, length, crc = HEADER.unpack_from(data)
        payload = data[HEADER.size:]
        if magic != MAGIC or length != len(payload) or zlib.crc32(payload) != crc:
            return None
        return payload

    def remove(self, seq: int) -> None:
        """Delete a delivered (or refused) request."""
        with self._lock:
            self._path(seq).unlink(missing_ok=True)
            self._files.pop(seq, None)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
