"""Arrays from ``.npz`` files (a data set ``x, t``, initial parameters): loaded without pickle, checked.

:func:`load_npz` refuses anything but finite real float or integer arrays of the names asked for (object
arrays would need pickle, which :func:`numpy.load` is never allowed to use here); :func:`file_digest`
names a file's content, so a results record made from one file is not resumed with another.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "d.npz")
>>> np.savez(path, x=np.zeros((4, 2)), t=np.ones((4, 1)))
>>> {k: v.shape for k, v in load_npz(path, ("x", "t")).items()}
{'x': (4, 2), 't': (4, 1)}
"""
from __future__ import annotations

import hashlib
import zipfile
from functools import lru_cache
from pathlib import Path
from collections.abc import Sequence

import numpy as np

from .errors import ConfigError

__all__ = ["load_npz", "file_digest", "cached_npz"]


def file_digest(path: str | Path) -> str:
    """The SHA-256 of the file's bytes (hex); a file that cannot be read raises :class:`ConfigError`.

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "a.bin")
    >>> _ = open(path, "wb").write(b"abc")
    >>> file_digest(path)[:12]
    'ba7816bf8f01'
    """
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None


def load_npz(path: str | Path, names: Sequence[str] | None = None, *, what: str = "the file") -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` file as float64, loaded with ``allow_pickle=False``. ``names`` (if given) are
    exactly the arrays it must hold; each must be real (bool, integer or float), finite, and non-empty.

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "bad.npz")
    >>> np.savez(path, x=np.array([1.0, np.nan]), t=np.ones(2))
    >>> load_npz(path, ("x", "t"), what="the data")
    Traceback (most recent call last):
    ...
    bnsym.errors.ConfigError: the data .../bad.npz: array 'x' is not finite (1 NaN or infinite entries)
    """
    where = f"{what} {path}"
    try:
        with np.load(path, allow_pickle=False) as archive:
            found = {name: archive[name] for name in archive.files}
    except FileNotFoundError:
        raise ConfigError(f"{where} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"{where} is a directory, not an .npz file") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {where}: {exc.strerror or exc}") from None
    except (ValueError, zipfile.BadZipFile, EOFError) as exc:  # not an npz, or object arrays (needs pickle)
        raise ConfigError(f"{where} is not a readable .npz file of numeric arrays: {exc}") from None
    if not isinstance(found, dict):  # pragma: no cover - np.load on a .npy gives an array
        raise ConfigError(f"{where} is not an .npz archive")
    if names is not None:
        missing = [n for n in names if n not in found]
        extra = sorted(set(found) - set(names))
        if missing or extra:
            raise ConfigError(f"{where} must hold exactly the arrays {', '.join(names)}"
                              + (f"; missing {', '.join(missing)}" if missing else "")
                              + (f"; unexpected {', '.join(extra)}" if extra else ""))
    out = {}
    for name, array in found.items():
        if array.dtype.kind not in "biuf":
            raise ConfigError(f"{where}: array {name!r} must be real numbers, got dtype {array.dtype}")
        if array.size == 0:
            raise ConfigError(f"{where}: array {name!r} is empty")
        values = array.astype(np.float64)
        bad = int(np.count_nonzero(~np.isfinite(values)))
        if bad:
            raise ConfigError(f"{where}: array {name!r} is not finite ({bad} NaN or infinite entries)")
        out[name] = values
    return out


@lru_cache(maxsize=16)
def cached_npz(path: str, digest: str, names: tuple[str, ...] | None, what: str) -> dict[str, np.ndarray]:
    """:func:`load_npz`, once per process and file content (``digest`` from :func:`file_digest`, checked).

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "p.npz")
    >>> np.savez(path, a=np.ones(3))
    >>> cached_npz(path, file_digest(path), None, "the file")["a"].tolist()
    [1.0, 1.0, 1.0]
    """
    if file_digest(path) != digest:
        raise ConfigError(f"{what} {path} changed since the configuration was loaded")
    return load_npz(path, names, what=what)
