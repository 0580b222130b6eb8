"""Files: the cache directory, atomic writes and content digests.

Expensive artefacts (sample banks, processed QM9, FCD reference statistics) live under
``cache_dir()`` (``$QLATENT_CACHE`` or ``~/.cache/qlatent``), keyed by a digest of everything
that determines them, written atomically (temporary file + ``os.replace``) so an interrupted
write never leaves a half-written file under the final name.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def cache_dir(*parts: str) -> Path:
    """Return (and create) ``$QLATENT_CACHE/<parts...>``, default ``~/.cache/qlatent``."""
    root = Path(os.environ.get("QLATENT_CACHE") or Path.home() / ".cache" / "qlatent")
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def atomic_write(path: str | os.PathLike, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp_path)`` then rename ``tmp_path`` onto ``path`` atomically.

    ``write`` must create the file it is given. On any exception the temporary file is removed
    and ``path`` is left as it was. The file gets the permissions a plain ``open`` would give
    (0o666 less the umask), not ``mkstemp``'s private 0o600, so shared run directories stay
    readable.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        with open(tmp_path, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def atomic_save_array(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write ``array`` as ``.npy`` (no pickle) to ``path`` atomically: a file (or a link)
    already at ``path`` is replaced, never written through."""
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.save(handle, np.asarray(array), allow_pickle=False)

    return atomic_write(path, write)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=jsonable))


def jsonable(obj: Any) -> Any:
    """``json.dumps``' ``default``: numpy scalars and arrays as numbers and lists, paths as
    text; anything else is a ``TypeError``."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")


def digest(*items: Any) -> str:
    """SHA-256 hex digest of ``items``: arrays by dtype, shape and bytes, the rest as JSON."""
    h = hashlib.sha256()
    for item in items:
        if isinstance(item, np.ndarray):
            arr = np.ascontiguousarray(item)
            h.update(f"ndarray:{arr.dtype.str}:{arr.shape}:".encode())
            h.update(arr.tobytes())
        elif isinstance(item, bytes):
            h.update(b"bytes:" + item)
        else:
            h.update(json.dumps(item, sort_keys=True, default=jsonable).encode())
        h.update(b"\x00")
    return h.hexdigest()


def file_digest(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            h.update(block)
    return h.hexdigest()


def notice(message: str) -> None:
    """Tell the user, in one line on stderr, what a cache did on its own (a rebuild, a skip)."""
    print(f"qlatent: {' '.join(message.split())}", file=sys.stderr, flush=True)
