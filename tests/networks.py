"""The networks the tests build: one registry, each network once, by name, with tags saying which suites use it.

A test selects networks by tag (``names("derive")``, ``names("symbolic")``) and builds them by name
(``build("two-layer-relu")``), so a network added here with a tag is checked by every suite that selects
that tag. Some tags follow from the call itself (:data:`DERIVED`: ``bn``, ``symbolic``, ``mse``, ``eps``);
the others say what a suite needs (:data:`TAGS`: small enough for an exact comparison, in the README, …).

Names read ``<builder>[-<activation>][-bn-<pre|post>][-m<batch>][-<extras>]`` (``-m`` alone: a symbolic
batch ``m``; extras in the order ``2in``, ``nobias``, ``out-<activation>``, ``eps<value>``, ``mse``). The
LaTeX seed networks keep their historical names, which leave out ``-m2`` (BN's smallest batch) and mlp's
default ReLU. The other normalizations (``norm=``) read ``-<norm>[-<placement>]`` in place of ``-bn-…``, with
``-eval`` for BN in evaluation mode and ``-p<P>`` for ``positions=P``.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import sympy

import bnsym

#: the tags a test may select by, besides the :data:`DERIVED` ones: what each says about a network
TAGS = {
    "latex": "a LaTeX seed network: its document compiles without overfull boxes (tests/test_latex.py)",
    "readme": "one of the README's batch-norm networks, two_layer(bn='pre') at m = 3 or 4",
    "derive": "its closed forms are checked against sympy.diff of the flattened forward (tests/test_derive.py)",
    "exact": "small enough for that check to be exact (radical normal form) rather than to 40 digits",
    "fuzz": "its evaluate() is fuzzed with hostile values (tests/test_bad_input_core.py)",
    "autograd": "compile_network's loss and gradients equal PyTorch autograd of its loss (tests/test_numeric.py)",
    "torch": "its gradients equal PyTorch autograd of a torch forward (tests/test_torch_crosscheck.py; "
             "F.batch_norm needs eps > 0)",
    "closed-form": "small enough to lambdify its fully substituted closed forms too",
}
#: the tags that follow from the builder's arguments
DERIVED = {
    "bn": "has a batch normalization",
    "symbolic": "over a symbolic batch m (the index form; tests/test_batchform.py)",
    "mse": "has a mean-squared-error loss (targets t) instead of the abstract upstream ∂J/∂ŷ",
    "eps": "ε is not 0",
}


@dataclass(frozen=True)
class Spec:
    """A registered network: ``getattr(bnsym, builder)(*args, **kwargs)``, its name and its tags."""

    name: str
    builder: str
    args: tuple
    kwargs: Mapping = field(default_factory=dict)
    extra_tags: frozenset = frozenset()

    @property
    def tags(self) -> frozenset:
        """The given tags and the :data:`DERIVED` ones.

        >>> sorted(SPECS["two-layer-relu-bn-pre-m3"].tags)
        ['bn', 'readme']
        """
        kw = self.kwargs
        batch_norm = kw.get("norm") == "batch" and kw.get("mode", "train") == "train"  # norm= with batch statistics
        derived = {"bn": bool(kw.get("bn")) or batch_norm, "symbolic": isinstance(kw.get("batch"), str),
                   "mse": kw.get("loss") == "mse", "eps": kw.get("eps", 0) != 0}
        return self.extra_tags | {tag for tag, present in derived.items() if present}

    def build(self) -> bnsym.Network:
        """A new network from the call.

        >>> SPECS["chain4"].build().parameters.keys()
        dict_keys(['w1', 'w2', 'w3', 'w4'])
        """
        return getattr(bnsym, self.builder)(*self.args, **self.kwargs)

    def __str__(self) -> str:
        """The call, as a test's message shows it.

        >>> str(SPECS["two-layer-relu-bn-pre-m3"])
        "bnsym.two_layer('relu', bn='pre', batch=3)"
        """
        arguments = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"bnsym.{self.builder}({', '.join(arguments)})"


SPECS: dict[str, Spec] = {}


def _add(name: str, builder: str, *args, tags: str = "", **kwargs) -> None:
    tags = frozenset(tags.split())
    assert name not in SPECS, f"two networks are called {name}"
    assert tags <= set(TAGS), f"{name}: unknown tags {sorted(tags - set(TAGS))}"
    spec = Spec(name, builder, args, MappingProxyType(kwargs), tags)
    assert all(str(spec) != str(other) for other in SPECS.values()), f"{name} is already registered as another name"
    SPECS[name] = spec


E100, E10 = sympy.Rational(1, 100), sympy.Rational(1, 10)
TORCH_EPS = 1e-3  # F.batch_norm(training=True) refuses eps = 0

# -- the LaTeX seeds and the README's networks -------------------------------------------------------------
_add("chain5-abcde", "chain", 5, names="abcde", tags="latex")
_add("two-layer-relu", "two_layer", "relu", tags="latex derive exact")
_add("two-layer-sigmoid", "two_layer", "sigmoid", tags="latex")
for _activation in ("relu", "sigmoid"):
    for _bn in ("pre", "post"):
        _add(f"two-layer-{_activation}-bn-{_bn}", "two_layer", _activation, bn=_bn, batch=2, tags="latex")
    for _m in (3, 4):
        _add(f"two-layer-{_activation}-bn-pre-m{_m}", "two_layer", _activation, bn="pre", batch=_m, tags="readme")
_add("mlp-2-2-1", "mlp", [2, 2, 1], tags="latex")

# -- over a symbolic batch m -----------------------------------------------------------------------------------
_add("chain3-m", "chain", 3, batch="m")
_add("chain3-bn-m", "chain", 3, bn=True, batch="m")
_add("two-layer-relu-bn-pre-m", "two_layer", "relu", bn="pre", batch="m")
_add("two-layer-tanh-bn-post-m-2in", "two_layer", "tanh", bn="post", batch="m", inputs=2)
_add("two-layer-sigmoid-bn-pre-m-eps0.1", "two_layer", "sigmoid", bn="pre", batch="m", eps=E10)
_add("mlp-2-2-1-sigmoid-bn-pre-m-mse", "mlp", [2, 2, 1], "sigmoid", bn="pre", batch="m", loss="mse")
_add("mlp-2-3-2-tanh-bn-post-m-out-sigmoid-mse", "mlp", [2, 3, 2], "tanh", bn="post", batch="m", loss="mse",
     output_activation="sigmoid")
_add("mlp-2-2-1-relu-m-mse", "mlp", [2, 2, 1], "relu", batch="m", loss="mse")

# -- closed forms against sympy.diff of the flattened forward ------------------------------------------------
_add("chain4", "chain", 4, tags="derive exact")
_add("chain3-bn-m3", "chain", 3, bn=True, batch=3, tags="derive")
_add("chain3-bn-m2-mse", "chain", 3, bn=True, batch=2, loss="mse", tags="derive exact")
_add("two-layer-sigmoid-mse", "two_layer", "sigmoid", loss="mse", tags="derive exact")
_add("two-layer-tanh-bn-pre-m3", "two_layer", "tanh", bn="pre", batch=3, tags="derive exact")
_add("two-layer-relu-bn-pre-m3-eps0.01", "two_layer", "relu", bn="pre", batch=3, eps=E100, tags="derive exact")
_add("two-layer-sigmoid-bn-post-m3", "two_layer", "sigmoid", bn="post", batch=3, tags="derive exact")
_add("two-layer-identity-bn-pre-m2-nobias", "two_layer", "identity", bn="pre", bias=False, batch=2,
     tags="derive exact")
_add("two-layer-relu-bn-pre-m3-2in", "two_layer", "relu", bn="pre", batch=3, inputs=2, tags="derive")
_add("mlp-2-2-1-tanh-bn-pre-m3", "mlp", [2, 2, 1], activation="tanh", bn="pre", batch=3, tags="derive")
_add("mlp-2-3-1-relu-m2-mse", "mlp", [2, 3, 1], activation="relu", batch=2, loss="mse", tags="derive")
_add("mlp-2-1-2-sigmoid-bn-post-m2-eps0.01", "mlp", [2, 1, 2], activation="sigmoid", bn="post", batch=2, eps=E100,
     tags="derive")

# -- fuzzed with hostile values ----------------------------------------------------------------------------------
_add("chain2", "chain", 2, tags="fuzz")
_add("chain3-bn-m2", "chain", 3, bn=True, batch=2, tags="fuzz")
_add("chain2-m2-mse", "chain", 2, loss="mse", batch=2, tags="fuzz")
_add("two-layer-sigmoid-bn-pre-m3-eps0.01", "two_layer", activation="sigmoid", bn="pre", batch=3, eps=E100,
     tags="fuzz")
_add("two-layer-tanh-bn-post-m2-mse", "two_layer", activation="tanh", bn="post", batch=2, loss="mse", tags="fuzz")
_add("two-layer-relu-bn-pre-m2-epsilon", "two_layer", bn="pre", batch=2,
     eps=sympy.Symbol("epsilon", nonnegative=True), tags="fuzz")
_add("mlp-2-2-1-relu-bn-pre-m2", "mlp", [2, 2, 1], activation="relu", bn="pre", batch=2, tags="fuzz")
_add("mlp-1-2-tanh-m2-mse", "mlp", [1, 2], activation="tanh", batch=2, loss="mse", tags="fuzz")

# -- compile_network against PyTorch autograd of the loss --------------------------------------------------------
_add("chain5-mse", "chain", 5, loss="mse", tags="autograd")
_add("chain3-bn-m4-mse", "chain", 3, bn=True, batch=4, loss="mse", tags="autograd")
_add("two-layer-sigmoid-m3-mse", "two_layer", activation="sigmoid", batch=3, loss="mse", tags="autograd")
_add("two-layer-relu-bn-pre-m4-2in-eps0.01-mse", "two_layer", bn="pre", batch=4, inputs=2, eps=E100, loss="mse",
     tags="autograd")
_add("two-layer-tanh-bn-post-m3-mse", "two_layer", activation="tanh", bn="post", batch=3, loss="mse",
     tags="autograd")
_add("mlp-2-3-2-tanh-bn-pre-m3-mse", "mlp", [2, 3, 2], activation="tanh", bn="pre", batch=3, loss="mse",
     tags="autograd")

# -- gradients against PyTorch autograd of a torch forward -------------------------------------------------------
_add("two-layer-relu-m3", "two_layer", "relu", batch=3, tags="torch closed-form")
_add("two-layer-sigmoid-bn-pre-m4-eps0.001", "two_layer", "sigmoid", bn="pre", batch=4, eps=TORCH_EPS,
     tags="torch closed-form")
_add("two-layer-tanh-bn-post-m4-eps0.001", "two_layer", "tanh", bn="post", batch=4, eps=TORCH_EPS,
     tags="torch closed-form")
_add("two-layer-relu-bn-pre-m4-2in-eps0.001-mse", "two_layer", "relu", bn="pre", batch=4, eps=TORCH_EPS, inputs=2,
     loss="mse", tags="torch closed-form")
_add("chain4-bn-m4-eps0.001", "chain", 4, bn=True, batch=4, eps=TORCH_EPS, tags="torch")
_add("mlp-2-3-1-relu-bn-pre-m4-eps0.001-mse", "mlp", [2, 3, 1], activation="relu", bn="pre", batch=4, eps=TORCH_EPS,
     loss="mse", tags="torch")
_add("mlp-2-2-2-tanh-bn-post-m3-eps0.001", "mlp", [2, 2, 2], activation="tanh", bn="post", batch=3, eps=TORCH_EPS,
     tags="torch")

# -- the normalization family (norm=): weight norm, eval-mode BN, per-channel BN ----------------------------------
_add("two-layer-tanh-weight-m3-mse", "two_layer", "tanh", norm="weight", batch=3, loss="mse", tags="derive")
_add("chain3-batch-eval", "chain", 3, norm="batch", mode="eval", tags="derive")
_add("mlp-1-4-1-tanh-batch-pre-m2-p2", "mlp", [1, 4, 1], activation="tanh", norm="batch", positions=2, batch=2,
     eps=E10, tags="derive")
_add("mlp-2-2-1-sigmoid-weight-m-mse", "mlp", [2, 2, 1], "sigmoid", norm="weight", batch="m", loss="mse")


def names(*tags: str, without: tuple[str, ...] = ()) -> list[str]:
    """The sorted names of the networks that have every one of ``tags`` and none of ``without``.

    >>> names("readme")
    ['two-layer-relu-bn-pre-m3', 'two-layer-relu-bn-pre-m4', 'two-layer-sigmoid-bn-pre-m3',
     'two-layer-sigmoid-bn-pre-m4']
    >>> names("derive", without=("exact",))[:2]
    ['chain3-batch-eval', 'chain3-bn-m3']
    >>> names("bn", "symbolic", "mse")
    ['mlp-2-2-1-sigmoid-bn-pre-m-mse', 'mlp-2-3-2-tanh-bn-post-m-out-sigmoid-mse']
    """
    unknown = set(tags + without) - set(TAGS) - set(DERIVED)
    assert not unknown, f"unknown tags {sorted(unknown)}: the tags are {sorted(TAGS) + sorted(DERIVED)}"
    return sorted(name for name, spec in SPECS.items() if spec.tags >= set(tags) and not spec.tags & set(without))


def build(name: str) -> bnsym.Network:
    """The network registered as ``name``, built anew.

    >>> build("two-layer-relu-bn-pre-m").batch
    m
    """
    return SPECS[name].build()


def builders(*tags: str) -> dict[str, Callable[[], bnsym.Network]]:
    """``{name: builder}`` for :func:`names` ``(*tags)``, for tests that keep a table of builders.

    >>> sorted(builders("latex"))[:3]
    ['chain5-abcde', 'mlp-2-2-1', 'two-layer-relu']
    """
    return {name: SPECS[name].build for name in names(*tags)}
