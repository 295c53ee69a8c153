"""Every notebook runs top to bottom in a fresh kernel, so the tutorials never rot.

The test sets ``HASIM_QUICK=1``: each notebook reads it and shortens its horizons and
replications, so the whole set runs in well under a minute; by hand, without it, the
notebooks run at the precision their text discusses.
"""

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_the_tutorials_are_there():
    names = {p.stem for p in NOTEBOOKS}
    assert len(names) >= 4, names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_from_a_fresh_kernel(path, tmp_path, monkeypatch):
    """No cell raises, and the notebook draws at least one picture (a PNG output)."""
    monkeypatch.setenv("HASIM_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "no picture drawn"
