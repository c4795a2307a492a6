"""The output directory of ``bnsym explain``: created with a clear error, and locked while a report is written.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     with output_lock(Path(tmp) / "out") as out:
...         sorted(p.name for p in out.iterdir())
['.bnsym-explain.lock']
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from collections.abc import Iterator

from .errors import BnsymError

__all__ = ["prepare_output", "output_lock", "LOCK_NAME"]

#: The lock file :func:`output_lock` holds in the output directory.
LOCK_NAME = ".bnsym-explain.lock"


def prepare_output(outdir: str | Path) -> Path:
    """Create the output directory ``outdir`` (and its parents) or raise :class:`~bnsym.errors.BnsymError`
    saying why it cannot be one (it is a file, a parent is a file, no permission...).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     prepare_output(Path(tmp) / "a" / "b").is_dir()
    True
    """
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise BnsymError(f"cannot use {outdir} as the output directory: it exists and is not a directory")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BnsymError(f"cannot use {outdir} as the output directory: {exc.strerror or exc}"
                         + (f" ({exc.filename})" if exc.filename and str(exc.filename) != str(outdir)
                            else "")) from None
    return outdir


@contextmanager
def output_lock(outdir: str | Path) -> Iterator[Path]:
    """Hold an exclusive lock on ``outdir`` (``fcntl.flock`` of ``outdir/.bnsym-explain.lock``) while a report is
    written there. A second ``bnsym explain`` into the same directory does not wait: it raises
    :class:`~bnsym.errors.BnsymError` at once, so two runs never do the work twice nor interleave their records.
    :func:`run_explain` itself does not lock; the command holds the lock around the whole run. Where ``fcntl``
    does not exist (Windows) nothing is locked.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     with output_lock(tmp) as out:
    ...         (out / LOCK_NAME).exists()
    True
    """
    outdir = prepare_output(outdir)
    try:
        handle = open(outdir / LOCK_NAME, "a", encoding="utf-8")
    except OSError as exc:
        raise BnsymError(f"cannot write in the output directory {outdir}: {exc.strerror or exc}") from None
    with handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not on POSIX
            fcntl = None  # type: ignore[assignment]
        if fcntl is not None:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise BnsymError(f"another bnsym explain is writing to {outdir} (it holds {outdir / LOCK_NAME}); "
                                 "wait for it to finish or choose another -o directory") from None
            except OSError as exc:
                raise BnsymError(f"cannot lock {outdir / LOCK_NAME}: {exc.strerror or exc}") from None
        try:
            yield outdir
        finally:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
