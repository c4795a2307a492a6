"""Later work on batch normalization and learning rates, reproduced at small scale (issue #14).

One module per experiment; each has a frozen ``*Settings`` dataclass (defaults and ``quick()``), ``run``
returning a frozen result dataclass with medians and 10–90 % intervals over seeds, and ``describe(result)``
(Markdown whose every number is read from the result). Figures are in :mod:`bnsym.laterwork.figures`.

* :mod:`~bnsym.laterwork.gradient_explosion` — Yang et al. 2019, gradient explosion at initialization.
* :mod:`~bnsym.laterwork.edge_of_stability` — Cohen et al. 2021, sharpness rising to ``2/η``.
* :mod:`~bnsym.laterwork.auto_rate` — Arora, Li & Lyu 2018, auto rate-tuning by ``‖W‖`` growth.
* :mod:`~bnsym.laterwork.smoothness` — Santurkar et al. 2018 §3.2, loss and gradient variation along ``∇J``.
* :mod:`~bnsym.laterwork.rate_speedup` — Ioffe & Szegedy 2015 §4.2.1, BN with 5× and 30× the rate.

>>> from bnsym.laterwork import gradient_explosion
>>> gradient_explosion.GradientExplosionSettings.quick().seeds
3
"""
