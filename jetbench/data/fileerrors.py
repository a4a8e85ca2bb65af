"""One error line for a damaged input file, whatever its library raises."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from jetbench.core.errors import JetbenchError


@contextlib.contextmanager
def damaged_file_errors(path: str | os.PathLike, what: str) -> Iterator[None]:
    """uproot, h5py/HDF5, zipfile and numpy fail on damaged bytes with many exception types
    (OSError, ValueError, KeyError, struct.error, zlib.error, ...): turn each into
    `<path>: corrupt or truncated <what> (<first line of the message>)`."""
    try:
        yield
    except JetbenchError:
        raise
    except Exception as err:
        msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise JetbenchError(f"{path}: corrupt or truncated {what} ({msg})") from None
