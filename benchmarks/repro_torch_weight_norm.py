"""Minimal reproduction: the second derivative through PyTorch's ``weight_norm`` (``torch._weight_norm``, the op
``torch.nn.utils.parametrizations.weight_norm`` calls) disagrees with the exact value, which SymPy computes on
integers, and with the same formula ``g·v/‖v‖`` written with elementary torch ops. Found by
``bnsym.testing.check_higher_order("weight", ...)``.

    PYTHONPATH=. python benchmarks/repro_torch_weight_norm.py
"""
from __future__ import annotations

import sympy
import torch

DT = torch.float64
V = [[1, 2], [3, -1]]      # the direction parameter v (dim=0: one norm per output row)
G = [[2], [1]]             # the magnitudes g
DV = [[1, 0], [0, 1]]      # the direction of the derivative
U = [[1, 1], [0, 1]]       # the cotangent: φ(v) = ⟨U, w(v)⟩


def second(f) -> float:
    """``d²/dt² φ(v + t·dv)`` at ``t = 0`` by repeated ``torch.autograd.grad``."""
    v, dv, u = (torch.tensor(a, dtype=DT) for a in (V, DV, U))
    leaf = v.clone().requires_grad_(True)
    (d1,) = torch.autograd.grad((u * f(leaf)).sum(), leaf, create_graph=True)
    (d2,) = torch.autograd.grad((d1 * dv).sum(), leaf)
    return float((d2 * dv).sum())


def exact() -> float:
    t = sympy.Symbol("t")
    vs = [[V[i][j] + t * DV[i][j] for j in range(2)] for i in range(2)]
    phi = sum(U[i][j] * G[i][0] * vs[i][j] / sympy.sqrt(sum(a**2 for a in vs[i])) for i in range(2) for j in range(2))
    return float(sympy.diff(phi, t, 2).subs(t, 0))


if __name__ == "__main__":
    g = torch.tensor(G, dtype=DT)
    print(f"torch {torch.__version__}")
    print("torch._weight_norm :", second(lambda z: torch._weight_norm(z, g, 0)))
    print("g·v/‖v‖ (elementary ops):", second(lambda z: g * z / z.norm(dim=1, keepdim=True)))
    print("exact (SymPy):", exact())
