"""The experiment scripts run end to end and write what they promise."""

import importlib.util
import json
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "experiments" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # so worker processes can unpickle its functions
    spec.loader.exec_module(module)
    return module


def test_compare_designs_writes_table_and_plot(tmp_path, capsys):
    """A tiny run of the main job: one row per run, a summary per design, a PNG."""
    script = load("compare_designs")
    args = "--replications 2 --days 1 --rate 0.2 --workers 2 --out".split() + [str(tmp_path)]
    script.main(args)
    runs = pd.read_csv(tmp_path / "compare_designs.csv")
    summary = pd.read_csv(tmp_path / "compare_designs_summary.csv")
    assert len(runs) == 2 * len(script.DESIGNS)
    assert set(summary["design"]) == set(script.DESIGNS)
    assert (runs["issued"] == runs["ok"] + runs["failed"] + runs["in_flight"]).all()
    # Replication r uses seed 1 + r in every design (common random numbers).
    assert sorted(runs.groupby("design")["seed"].apply(tuple).unique()) == [(1, 2)]
    settings = json.loads((tmp_path / "compare_designs.json").read_text())
    assert settings["replications"] == 2 and set(settings["designs"]) == set(script.DESIGNS)
    png = (tmp_path / "compare_designs.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    assert "availability" in capsys.readouterr().out
