"""The theorem registry: each theorem is one registered unit (statement, hypotheses, proof), and lemmas.

A unit registers itself with :func:`register`; a proof that needs another theorem asks :func:`lemma` for its
kernel fact (proved on demand, once per set of options), so a lemma is reused, never retyped, and a lemma that
fails to prove makes every proof that needs it fail too.

>>> "bn_jacobian" in names()
True
"""
from __future__ import annotations

from .proof import Theorem
from .record import LemmaUnavailable

__all__ = ["register", "get", "names", "lemma", "clear_cache"]

_UNITS: dict[str, Theorem] = {}
_CACHE: dict = {}


def register(theorem: Theorem) -> Theorem:
    """Add a theorem unit to the catalogue (names are unique)."""
    if theorem.name in _UNITS:
        raise ValueError(f"theorem {theorem.name!r} registered twice")
    _UNITS[theorem.name] = theorem
    return theorem


def get(name: str) -> Theorem:
    """The unit called ``name`` (``KeyError`` if unknown)."""
    _load()
    return _UNITS[name]


def names() -> list[str]:
    """Every registered theorem, in catalogue order."""
    _load()
    return sorted(_UNITS, key=lambda n: (_UNITS[n].group, list(_UNITS).index(n)))


def _load() -> None:
    from . import units  # noqa: F401  (importing the units registers them)


def lemma(name: str, opts, index: int = 0):
    """The kernel fact of claim ``index`` of theorem ``name``, proved (general ``m``) with ``opts``.

    Raises :class:`LemmaUnavailable` when that proof does not hold."""
    key = (name, opts, index)
    if key not in _CACHE:
        unit = get(name)
        assert unit.general is not None  # every registered unit proves its theorem for a general m
        out = unit.general(opts)
        if out.holds is not True or not out.facts:
            raise LemmaUnavailable(f"theorem {name} is not established here"
                                   + (f" ({out.reason})" if out.reason else ""))
        claims = unit.claims(opts) if unit.claims else None
        if claims is None:
            _CACHE[key] = out.facts[-1]
        else:
            from ..kernel import core as K
            _CACHE[key] = K.conclude(claims[index], out.facts)
    return _CACHE[key]


def clear_cache() -> None:
    """Forget proved lemmas and proofs (tests that alter a theorem call this)."""
    _CACHE.clear()
    from . import catalogue

    catalogue._general.cache_clear()
