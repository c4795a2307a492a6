"""docs/tutorial.ipynb runs top to bottom (nbclient, a fresh kernel) and is committed without outputs."""
from __future__ import annotations

from pathlib import Path

from tests.tools import need_module

NOTEBOOK = Path(__file__).resolve().parent.parent / "docs" / "tutorial.ipynb"
HINT = "pip install -e '.[test]' installs nbclient, nbformat and ipykernel"


def test_the_committed_notebook_has_no_outputs():
    nbformat = need_module("nbformat", HINT)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)


def test_the_notebook_runs_and_shows_its_answers(tmp_path):
    nbformat = need_module("nbformat", HINT)
    nbclient = need_module("nbclient", HINT)
    need_module("ipykernel", HINT)
    need_module("matplotlib")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "\n".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in outputs)
    assert "holds = True" in text and "holds = False" in text  # the identities, and when they fail
    assert "∂J/∂a = " in text and "⋅b⋅c⋅d⋅e⋅x" in text  # part 1: the chain's gradient, derived
    assert "\\partial" in text  # the typesetting part
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(figures) >= 3
