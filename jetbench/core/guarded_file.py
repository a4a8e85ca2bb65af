"""A binary file for C libraries that cannot survive a failed write.

HDF5 crashes (segfault in `H5Fclose`) when a write fails under it — a full disk, a file-size
limit — because its metadata cache is left half flushed. Given this object instead of a path
(h5py's file-object driver), HDF5 never sees the failure: the first OSError is recorded, later
writes are dropped, and the caller checks `error` after each flush and discards the file.
"""

from __future__ import annotations

import io
import os


class GuardedFile(io.RawIOBase):
    """Read/write/seek on a real file; a failing write sets `error` instead of raising."""

    def __init__(self, path: str | os.PathLike, mode: str = "w+b") -> None:
        super().__init__()
        self._f = open(path, mode, buffering=0)  # noqa: SIM115 - closed in close()
        self.error: OSError | None = None

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        return self._f.readinto(buffer)

    def write(self, data) -> int:
        view = memoryview(data)
        if self.error is None:
            try:
                done = 0
                while done < len(view):
                    done += self._f.write(view[done:])
            except OSError as err:
                self.error = err
        return len(view)  # pretend success: the caller learns of the failure from `error`

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def truncate(self, size: int | None = None) -> int:
        if self.error is not None:
            return self._f.tell() if size is None else size
        try:
            return self._f.truncate(size)
        except OSError as err:
            self.error = err
            return self._f.tell() if size is None else size

    def flush(self) -> None:
        pass  # unbuffered

    def close(self) -> None:
        if not self.closed:
            self._f.close()
        super().close()
