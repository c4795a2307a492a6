"""Batch-norm implementations written the way users write them, correct and with one known bug each.

They are independent of :mod:`bnsym.testing` (no shared code with the kit's reference or its catalogue of
mistakes): the NumPy ones follow Ioffe & Szegedy 2015 §3.1 step by step, with a cache, as in course notes; the
torch ones are a module and an autograd Function. The tests check that the kit passes the correct ones and fails
each buggy one with a message naming the property and the likely cause.
"""
from __future__ import annotations

import numpy as np
import torch

BUGS = (
    "unbiased_variance",
    "eps_outside_sqrt",
    "no_mean_term",
    "no_xhat_term",
    "dgamma_wrong_axis",
    "keras_momentum",
)


def make_numpy_bn(bug: str | None = None, *, zero_term: bool = True):
    """``(forward, backward, update_running)`` in the kit's function convention, with at most one ``bug``.

    ``zero_term`` keeps the second term of ``∂ℓ/∂μ`` (identically zero): correct either way.
    """
    if bug is not None and bug not in BUGS:
        raise ValueError(bug)

    def stats(x, eps):
        mu = x.mean(axis=0)
        var = x.var(axis=0, ddof=1 if bug == "unbiased_variance" else 0)
        denom = np.sqrt(var) + eps if bug == "eps_outside_sqrt" else np.sqrt(var + eps)
        return mu, var, denom

    def forward(x, gamma, beta, eps):
        mu, var, denom = stats(x, eps)
        return gamma * (x - mu) / denom + beta

    def backward(dy, x, gamma, beta, eps):
        m = x.shape[0]
        mu, var, denom = stats(x, eps)
        xmu = x - mu
        xhat = xmu / denom
        dxhat = dy * gamma
        if bug == "eps_outside_sqrt":  # d(denom)/d(var) = 1/(2 sqrt(var)) for denom = sqrt(var) + eps
            dvar = np.sum(dxhat * xmu, axis=0) * -1.0 / denom**2 / (2 * np.sqrt(var))
        else:
            dvar = np.sum(dxhat * xmu, axis=0) * -0.5 * denom**-3
        n = m - 1 if bug == "unbiased_variance" else m
        dmu = np.sum(-dxhat / denom, axis=0)
        if zero_term:
            dmu = dmu + dvar * np.mean(-2.0 * xmu, axis=0)
        dx = dxhat / denom
        if bug != "no_xhat_term":
            dx = dx + dvar * 2.0 * xmu / n
        if bug != "no_mean_term":
            dx = dx + dmu / m
        dgamma = np.sum(dy * xhat, axis=1 if bug == "dgamma_wrong_axis" else 0)
        return dx, dgamma, np.sum(dy, axis=0)

    def update_running(running_mean, running_var, x, momentum):
        m = x.shape[0]
        batch_mean, batch_var = x.mean(axis=0), x.var(axis=0) * m / (m - 1)
        if bug == "keras_momentum":
            return momentum * running_mean + (1 - momentum) * batch_mean, momentum * running_var + (
                1 - momentum
            ) * batch_var
        return ((1 - momentum) * running_mean + momentum * batch_mean,
                (1 - momentum) * running_var + momentum * batch_var)

    return forward, backward, update_running


class KerasMomentumBN(torch.nn.BatchNorm1d):
    """A ``BatchNorm1d`` whose running statistics use the Keras convention with PyTorch's momentum (a bug)."""

    def forward(self, x):
        if self.training:
            with torch.no_grad():
                m = x.shape[0]
                self.running_mean.mul_(self.momentum).add_((1 - self.momentum) * x.mean(0))
                self.running_var.mul_(self.momentum).add_((1 - self.momentum) * x.var(0, unbiased=False) * m / (m - 1))
            return torch.nn.functional.batch_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)
        return torch.nn.functional.batch_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps
        )


class UnbiasedBN(torch.nn.Module):
    """A hand-written module that normalizes with the unbiased variance (a bug); autograd does the backward."""

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.num_features, self.eps = num_features, eps
        self.weight = torch.nn.Parameter(torch.ones(num_features))
        self.bias = torch.nn.Parameter(torch.zeros(num_features))

    def forward(self, x):
        return self.weight * (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=True) + self.eps) + self.bias


class ManualBN(torch.autograd.Function):
    """A custom autograd Function with a hand-written backward (correct)."""

    @staticmethod
    def forward(ctx, x, gamma, beta, eps):
        mu = x.mean(0)
        s = torch.sqrt(x.var(0, unbiased=False) + eps)
        xhat = (x - mu) / s
        ctx.save_for_backward(xhat, gamma, s)
        return gamma * xhat + beta

    @staticmethod
    def backward(ctx, g):
        xhat, gamma, s = ctx.saved_tensors
        m = g.shape[0]
        return gamma / (m * s) * (m * g - g.sum(0) - xhat * (g * xhat).sum(0)), (g * xhat).sum(0), g.sum(0), None


class ManualBNNoMeanTerm(ManualBN):
    """``ManualBN`` with the mean term dropped from the backward pass."""

    @staticmethod
    def backward(ctx, g):
        xhat, gamma, s = ctx.saved_tensors
        m = g.shape[0]
        return gamma / (m * s) * (m * g - xhat * (g * xhat).sum(0)), (g * xhat).sum(0), g.sum(0), None
