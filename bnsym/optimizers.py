"""Optimizers over a model's gradients: gradient descent, minibatch SGD, heavy-ball momentum, Adam.

A model is anything with ``loss_and_gradients`` (a :class:`~bnsym.vectorized.VectorizedNetwork` is checked
once, then stepped with its unchecked :meth:`~bnsym.vectorized.VectorizedNetwork.run`). :func:`train` runs
``steps`` updates and returns the full-batch loss before each update and after the last one, stopping at
divergence (a non-finite loss, or one above ``divergence_factor × max(J₀, 1)``, as
:func:`bnsym.dynamics.gradient_descent`). The updates are PyTorch's (``torch.optim.SGD`` with
``momentum``, dampening 0; ``torch.optim.Adam``), so :func:`bnsym.sweep.torch_gradient_descent` can repeat
a run; the minibatches come from :func:`minibatches`, shared by both.

>>> from bnsym.numeric import init_mlp
>>> from bnsym.dynamics import reference_data
>>> from bnsym.vectorized import reference_mlp
>>> x, t = reference_data(batch=8)
>>> losses, diverged = train(reference_mlp([2, 4, 1]), init_mlp([2, 4, 1], bn=False), x, t,
...                          Optimizer("adam"), lr=0.01, steps=20)
>>> len(losses), diverged, losses[-1] < losses[0]
(21, False, True)
"""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Mapping

import numpy as np

from .errors import ValuesError
from .vectorized import VectorizedNetwork

__all__ = ["OPTIMIZERS", "Optimizer", "minibatches", "train"]

#: the optimizer kinds: full-batch gradient descent, minibatch SGD, SGD with heavy-ball momentum, Adam
OPTIMIZERS = ("gd", "sgd", "momentum", "adam")


@dataclass(frozen=True)
class Optimizer:
    """An update rule. ``minibatch`` (``None``: the full batch) is the samples per step for every kind but
    ``"gd"``; ``momentum`` is the heavy-ball coefficient of ``"momentum"``; ``beta1, beta2, epsilon`` are Adam's.

    >>> Optimizer("sgd", minibatch=4).stochastic, Optimizer("gd").stochastic
    (True, False)
    >>> Optimizer("lbfgs")
    Traceback (most recent call last):
    ...
    bnsym.errors.ValuesError: unknown optimizer 'lbfgs'; choose one of 'gd', 'sgd', 'momentum', 'adam'
    """

    kind: str = "gd"
    minibatch: int | None = None
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8

    def __post_init__(self) -> None:
        if self.kind not in OPTIMIZERS:
            raise ValuesError(f"unknown optimizer {self.kind!r}; choose one of "
                              + ", ".join(repr(k) for k in OPTIMIZERS))
        if self.minibatch is not None and (isinstance(self.minibatch, bool) or not isinstance(self.minibatch, int)
                                           or self.minibatch < 1):
            raise ValuesError(f"minibatch must be an integer >= 1 (or None: the full batch), got {self.minibatch!r}")
        if self.kind == "gd" and self.minibatch is not None:
            raise ValuesError("optimizer 'gd' is full-batch: give minibatch only with 'sgd', 'momentum' or 'adam'")
        if not 0 <= self.momentum < 1 or not 0 <= self.beta1 < 1 or not 0 <= self.beta2 < 1:
            raise ValuesError(f"momentum, beta1 and beta2 must lie in [0, 1), got {self.momentum!r}, "
                              f"{self.beta1!r}, {self.beta2!r}")
        if not self.epsilon > 0:
            raise ValuesError(f"epsilon must be > 0, got {self.epsilon!r}")

    @property
    def stochastic(self) -> bool:
        """Whether a step sees a minibatch rather than the full batch.

        >>> Optimizer("adam").stochastic
        False
        """
        return self.minibatch is not None


def minibatches(samples: int, size: int | None, steps: int, seed: int = 0) -> list[np.ndarray]:
    """The sample indices of each of ``steps`` updates: a fresh seeded permutation per epoch, cut into
    ``size`` consecutive samples (an incomplete last minibatch is dropped); ``None`` is the full batch.

    >>> epoch = minibatches(4, 2, 2, seed=0)   # one epoch: two minibatches covering the four samples
    >>> [len(b) for b in epoch], sorted(np.concatenate(epoch).tolist())
    ([2, 2], [0, 1, 2, 3])
    >>> minibatches(4, 8, 1)
    Traceback (most recent call last):
    ...
    bnsym.errors.ValuesError: minibatch 8 is larger than the batch (4 samples)
    """
    if size is None:
        return [np.arange(samples)] * steps
    if size > samples:
        raise ValuesError(f"minibatch {size} is larger than the batch ({samples} samples)")
    rng = np.random.default_rng(20_000 + seed)
    out: list[np.ndarray] = []
    while len(out) < steps:
        order = rng.permutation(samples)
        out += [order[k:k + size] for k in range(0, samples - size + 1, size)]
    return out[:steps]


def train(model, params: Mapping, x, t, optimizer: Optimizer, *, lr: float, steps: int, seed: int = 0,
          divergence_factor: float = 1e3) -> tuple[list[float], bool]:
    """``steps`` updates of ``optimizer`` from ``params`` (not modified): the full-batch losses and whether
    the run diverged. ``seed`` orders the minibatches (:func:`minibatches`).

    >>> from bnsym.vectorized import reference_mlp
    >>> net = reference_mlp([1, 1])
    >>> losses, diverged = train(net, {"W1": 1.0, "b1": 0.0}, [[1.0], [2.0]], [[0.0], [0.0]], Optimizer("sgd"),
    ...                          lr=0.1, steps=2)
    >>> losses[0], len(losses), diverged     # J₀ = (1 + 4)/2
    (2.5, 3, False)
    >>> train(net, {"W1": 1.0, "b1": 0.0}, [[1.0], [2.0]], [[0.0], [0.0]], Optimizer("gd"), lr=10.0, steps=5)[1]
    True
    """
    if not (float(lr) > 0 and np.isfinite(float(lr))):
        raise ValuesError(f"the learning rate must be a positive finite number, got {lr!r}")
    lr = float(lr)
    if isinstance(model, VectorizedNetwork):
        p, x, t = model.check(params, x, t)
        evaluate = model.run
    else:
        p = {k: np.array(v, dtype=float) for k, v in params.items()}
        x, t = np.asarray(x, dtype=float), np.asarray(t, dtype=float)
        evaluate = model.loss_and_gradients
    batches = minibatches(x.shape[0], optimizer.minibatch, steps, seed)
    state: dict[str, dict[str, np.ndarray]] = {"m": {}, "v": {}}
    losses: list[float] = []
    bound = np.inf
    with np.errstate(all="ignore"):
        for step in range(steps + 1):
            loss, grads = evaluate(p, x, t)
            losses.append(float(loss))
            if step == 0:
                bound = divergence_factor * max(float(loss), 1.0)
            if not np.isfinite(loss) or loss > bound:
                return losses, True
            if step == steps:
                break
            if optimizer.stochastic:
                rows = batches[step]
                _, grads = evaluate(p, x[rows], t[rows])
            for name, g in grads.items():
                p[name] = p[name] - _update(optimizer, state, name, np.asarray(g, float).reshape(p[name].shape),
                                            lr, step + 1)
    return losses, False


def _update(opt: Optimizer, state: dict[str, dict[str, np.ndarray]], name: str, g: np.ndarray, lr: float,
            k: int) -> np.ndarray:
    """The step subtracted from parameter ``name`` at update ``k`` (1-based), as ``torch.optim`` computes it."""
    if opt.kind in ("gd", "sgd"):
        return lr * g
    if opt.kind == "momentum":
        buf = state["m"].get(name)
        buf = g if buf is None else opt.momentum * buf + g
        state["m"][name] = buf
        return lr * buf
    m = opt.beta1 * state["m"].get(name, 0.0) + (1 - opt.beta1) * g
    v = opt.beta2 * state["v"].get(name, 0.0) + (1 - opt.beta2) * g * g
    state["m"][name], state["v"][name] = m, v
    denom = np.sqrt(v) / np.sqrt(1 - opt.beta2 ** k) + opt.epsilon
    return (lr / (1 - opt.beta1 ** k)) * m / denom
