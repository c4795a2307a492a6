"""Minimal reproductions of the higher-order disagreements the kit (bnsym.testing.higher_order) finds in PyTorch's
own normalization ops, each against an exact value computed by SymPy on rationals and, independently, by a central
finite difference (step h) of the next lower order computed by a composite implementation (mean/var/sqrt ops,
whose every mode agrees with the exact value), whose error is O(h²).

    PYTHONPATH=. python benchmarks/repro_torch_higher_order.py
"""
from __future__ import annotations

import sympy
import torch
import torch.nn.functional as F
from torch.func import grad, hessian, jacrev, jvp

DT = torch.float64
EPS = 1e-5
X = [[0.0, 1.0, 3.0]]       # one sample of three features (layer_norm) / three samples of one feature (batch_norm)
V = [[1.0, 0.0, 0.0]]       # the direction: move x₁ only
U = [[0.0, 0.0, 1.0]]       # the cotangent: read y₃ only


def ops(layout: str):
    """``(torch op, composite, exact d^k/dt^k y₃(x + t v) at t = 0 for k = 2, 3)`` for one op."""
    shape = (1, 3) if layout == "layer" else (3, 1)
    dim = -1 if layout == "layer" else 0
    x, v, u = (torch.tensor(a, dtype=DT).reshape(shape) for a in (X, V, U))
    native = (lambda z: F.layer_norm(z, (3,), eps=EPS)) if layout == "layer" else \
        (lambda z: F.batch_norm(z, None, None, training=True, eps=EPS))

    def composite(z):
        mu = z.mean(dim, keepdim=True)
        return (z - mu) / torch.sqrt(((z - mu) ** 2).mean(dim, keepdim=True) + EPS)

    t = sympy.Symbol("t")
    xs = [t, 1, 3]
    mu = sum(xs) / 3
    y3 = (3 - mu) / sympy.sqrt(sum((a - mu) ** 2 for a in xs) / 3 + sympy.Rational(EPS))
    exact = {k: float(sympy.N(sympy.diff(y3, t, k).subs(t, 0), 30)) for k in (2, 3)}
    return x, v, u, native, composite, exact


def modes(f, x, v, u):
    """The second and third directional derivatives of ⟨u, f(x + s v)⟩ at s = 0 in several modes."""
    phi = lambda z: (u * f(z)).sum()  # noqa: E731
    d1 = lambda z: jvp(phi, (z,), (v,))[1]  # noqa: E731
    out = {"jvp∘jvp (2)": float(jvp(d1, (x,), (v,))[1]),
           "torch.func.hessian (2)": float(torch.einsum("ij,ijkl,kl->", v, hessian(phi)(x), v)),
           "jacrev∘jacrev (2)": float(torch.einsum("ij,ijkl,kl->", v, jacrev(jacrev(phi))(x), v)),
           "jvp∘grad (2)": float(jvp(lambda z: (grad(phi)(z) * v).sum(), (x,), (v,))[1])}
    leaf = x.clone().requires_grad_(True)
    value = phi(leaf)
    for k in (1, 2, 3):
        (g,) = torch.autograd.grad(value, leaf, create_graph=True)
        value = (g * v).sum()
        if k >= 2:
            out[f"autograd.grad^{k} ({k})"] = float(value.detach())
    return out


def main() -> None:
    print(f"torch {torch.__version__}")
    for layout in ("layer", "batch"):
        report(layout, 1e-4)


def report(layout: str, h: float) -> None:
    """The exact, finite-difference and per-mode values for one op."""
    x, v, u, native, composite, exact = ops(layout)
    phi = lambda z, f=composite: (u * f(z)).sum()  # noqa: E731
    second = lambda z: jvp(lambda w: jvp(phi, (w,), (v,))[1], (z,), (v,))[1]  # noqa: E731
    first = lambda z: jvp(phi, (z,), (v,))[1]  # noqa: E731
    fd = {2: float((first(x + h * v) - first(x - h * v)) / (2 * h)),
          3: float((second(x + h * v) - second(x - h * v)) / (2 * h))}
    print(f"\n{layout}_norm on x = {X if layout == 'layer' else [[a] for a in X[0]]}, v = e₁, u = e₃, eps = {EPS}")
    print(f"  exact (SymPy):             k=2 {exact[2]!r}   k=3 {exact[3]!r}")
    print(f"  FD of composite, h={h}:  k=2 {fd[2]!r}   k=3 {fd[3]!r}")
    native_modes, composite_modes = modes(native, x, v, u), modes(composite, x, v, u)
    for name, value in native_modes.items():
        k = int(name[-2])
        flag = "OK " if abs(value - exact[k]) <= 1e-8 * max(1, abs(exact[k])) else "BAD"
        print(f"  {flag} torch op {name:<24} {value!r:<24} composite {composite_modes[name]!r}")


def mixed_block() -> None:
    """``∂/∂x (∂φ/∂γ)`` by ``jacrev(jacrev(·, argnums=γ), argnums=x)`` (the inner reverse pass under vmap)."""
    print("\nmixed block ∂²⟨u, f(x, γ)⟩/∂x∂γ₃ at γ = 1 (exact: the composite's, equal in every mode)")
    for layout in ("layer", "batch"):
        _mixed(layout)


def _mixed(layout: str) -> None:
    x, _, u, _, composite, _ = ops(layout)
    gamma = torch.ones(3 if layout == "layer" else 1, dtype=DT)
    native = (lambda z, g: F.layer_norm(z, (3,), g, None, EPS)) if layout == "layer" else \
        (lambda z, g: F.batch_norm(z, None, None, g, None, training=True, eps=EPS))
    for name, f in (("torch op", native), ("composite", lambda z, g, c=composite: c(z) * g)):
        phi = lambda z, g, f=f, u=u: (u * f(z, g)).sum()  # noqa: E731
        rr = jacrev(jacrev(phi, argnums=1), argnums=0)(x, gamma)[-1].flatten().tolist()
        ag = torch.autograd.functional.hessian(phi, (x, gamma))[1][0][-1].flatten().tolist()
        print(f"  {layout}_norm {name:<9} jacrev∘jacrev {[round(a, 12) for a in rr]}  "
              f"autograd.functional.hessian {[round(a, 12) for a in ag]}")


if __name__ == "__main__":
    main()
    mixed_block()
