"""The PBS picture (hasim.plot.staleness) and experiments/pbs_staleness.py, end to end, small."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")  # before pyplot: files only, no window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import hasim as hs  # noqa: E402
import hasim.plot as hp  # noqa: E402
from hasim.analytic import wars_consistency  # noqa: E402
from hasim.plot.staleness import staleness_curve  # noqa: E402
from hasim.replication.pbs import Visibility, visibility_trials  # noqa: E402

WARS = hs.WARS(write=hs.Exponential(mean=0.01), ack=hs.Exponential(mean=0.002),
               read=hs.Exponential(mean=0.004), response=hs.Exponential(mean=0.001))  # fmt: skip


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_points_with_intervals_and_a_theory_curve_in_one_colour(tmp_path):
    """Each simulated point has its Wilson interval; the theory of the same name is drawn in
    the same colour; a point where every read was consistent becomes a caret (lower bound)."""
    seen = visibility_trials(1, n=3, r=1, w=1, wars=WARS, gaps=[0.0, 0.01], trials=300)
    all_fresh = Visibility((0.0, 0.05), (100, 100), (60, 100))
    grid = np.linspace(0, 0.05, 11)
    theory = {"R=1 W=1": (grid, wars_consistency(3, 1, 1, WARS, grid)),
              "other": lambda t: wars_consistency(3, 1, 2, WARS, t)}  # fmt: skip
    ax = staleness_curve({"R=1 W=1": seen, "other": all_fresh}, theory)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert lines["R=1 W=1"].get_color() != lines["other"].get_color()
    bars = [c for c in ax.containers if hasattr(c, "lines")]
    assert len(bars) == 2
    assert bars[0].lines[0].get_color() == lines["R=1 W=1"].get_color()
    assert ax.get_yscale() == "logit" and "ms" in ax.get_xlabel()
    assert any(line.get_marker() == "^" for line in ax.get_lines())  # the 100/100 point
    assert hp.save(ax, tmp_path / "pbs.png").read_bytes().startswith(b"\x89PNG")


def test_linear_scale_and_curves_only():
    """``scale="linear"`` and a theory without measurements both draw."""
    ax = staleness_curve(theory={"": (np.array([0.0, 0.01]), np.array([0.5, 0.8]))},
                         scale="linear")  # fmt: skip
    assert ax.get_yscale() == "linear"
    assert ax.get_ylim()[1] <= 1.01


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"measured": [1, 2]}, r"^hasim.plot.staleness_curve: measured must be a Visibility"),
        ({"measured": None}, r"measured must be something to draw"),
        ({"theory": {"a": (1, 2, 3)}}, r"theory must be a pair \(t, P\)"),
        ({"theory": {"a": lambda t: t}, "scale": "log"}, r"scale must be one of"),
        ({"theory": {"a": lambda t: t}, "level": 95}, r"level must be a number in \(0, 1\)"),
    ],
)
def test_bad_arguments_are_refused(kwargs, match):
    """Every argument is checked, with the one error style."""
    with pytest.raises(hs.ConfigError, match=match):
        staleness_curve(**kwargs)


def test_the_experiment_script_writes_what_it_promises(tmp_path, capsys, experiment_script):
    """Tiny settings: one row per setting and t, the theory column, the t-visibility
    percentiles in the settings file, a real PNG (and the README copy with --picture)."""
    script = experiment_script("pbs_staleness")
    out = tmp_path / "results"
    table = script.main(["--trials", "300", "--gaps", "0,10", "--settings", "1,1;2,1,quorum",
                         "--out", str(out), "--picture", str(tmp_path / "pbs.png")])  # fmt: skip
    written = pd.read_csv(out / "pbs_staleness.csv")
    assert len(written) == len(table) == 4
    assert (written["reads"] == 300).all()
    assert written["theory"].between(0, 1).all()
    assert (written["share_lo"] <= written["share"]).all()
    settings = json.loads((out / "pbs_staleness.json").read_text())
    percentiles = settings["t_visibility_seconds"]["N=3 R=1 W=1"]
    assert 0 < percentiles["0.9"] < percentiles["0.99"] < percentiles["0.999"]
    for png in (out / "pbs_staleness.png", tmp_path / "pbs.png"):
        assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 20_000
    assert "t-visibility" in capsys.readouterr().out
