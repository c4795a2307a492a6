"""The README's Python examples run as printed (the kit example needs the user's own functions: skipped)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
BLOCKS = [b for b in re.findall(r"```python\n(.*?)```", README, flags=re.S) if "my_bn_forward" not in b]


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, capsys):
    assert len(BLOCKS) >= 2
    namespace: dict = {}
    exec(compile(BLOCKS[index], f"README block {index}", "exec"), namespace)  # our own README, not user input
    if 'batch="m")   #' in BLOCKS[index]:  # the symbolic-batch example: its comments are the results
        import sympy

        two = namespace["bnsym"].two_layer(activation="relu", bn="pre", batch="m")
        assert two.gradient("b1").closed_form == 0 and two.gradient("b1").proof.holds is True
        w2 = two.gradient("w2")
        assert str(w2.raw) in BLOCKS[index]
        assert sympy.expand(w2.written_out(4) - w2.at(4).compact) == 0
    if "bnsym.chain(5" in BLOCKS[index]:
        assert str(namespace["d"].compact) == "dJ/dyhat*w2*x*ReLU'(z1)*ReLU'(z2)"
