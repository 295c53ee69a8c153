"""The ``hasim`` command line with design files: run, compare, sweep, check, draw, models.

``main(argv)`` is called directly; the runs are tiny (an hour or less, serial).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from hasim.cli import main
from hasim.designfile import load_design

ROOT = Path(__file__).resolve().parents[1]
LB = str(ROOT / "models" / "lb_cluster.toml")
SINGLE = str(ROOT / "models" / "single_server.toml")

SMALL = """\
[design]
name = "small"
up = "k_of_n(1, web)"

[params]
mttf = "20m"        # mean time to failure
workers = 2         # requests a server serves at once

[server.web]
count = 2
workers = "${workers}"
service_time = { kind = "exponential", mean = "5ms" }
failures = { ttf = { kind = "exponential", mean = "${mttf}" }, ttr = "5m" }

[workload]
rate = 1.0

[experiment]
reps = 2
horizon = "30m"
seed = 4
"""


def run_cli(capsys, *argv):
    """``(exit code, stdout, stderr)`` of ``hasim ARGV``."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def small(tmp_path):
    path = tmp_path / "small.toml"
    path.write_text(SMALL)
    return path


def test_run_a_design_file(capsys):
    code, out, err = run_cli(capsys, "run", LB, "--reps", "2", "--horizon", "1h", "--workers", "1")
    assert code == 0, err
    assert out.startswith("2 replications of 1 h")
    assert "\nlb_cluster " in out


def test_a_design_file_gives_the_ready_models_numbers_on_the_command_line(capsys):
    flags = ["--reps", "2", "--horizon", "1h", "--workers", "1", "--set", "mttf=20m", "--json"]
    code, by_file, err = run_cli(capsys, "run", SINGLE, *flags)
    assert code == 0, err
    code, by_name, err = run_cli(capsys, "run", "single_server", *flags)
    assert code == 0, err
    assert json.loads(by_file)["metrics"] == json.loads(by_name)["metrics"]
    assert json.loads(by_file)["metrics"]["incidents"]["mean"] > 0


def test_the_experiment_section_gives_defaults_that_flags_override(capsys, small):
    code, out, err = run_cli(capsys, "run", small, "--workers", "1")
    assert code == 0, err
    assert out.startswith("2 replications of 30 min (warm-up 0 s), open loop 1 req/s")
    assert "seed 4" in out.splitlines()[0]
    code, out, err = run_cli(capsys, "run", small, "--workers", "1", "--reps", "3", "--seed", "1",
                             "--horizon", "10m", "--rate", "2")  # fmt: skip
    assert code == 0, err
    assert out.startswith("3 replications of 10 min (warm-up 0 s), open loop 2 req/s")
    assert "seed 1" in out.splitlines()[0]


def test_compare_mixes_ready_models_and_design_files(capsys):
    redundant = str(ROOT / "models/redundant_lb.toml")
    flags = ["--reps", "2", "--horizon", "1h", "--workers", "1", "--no-traffic"]
    code, out, err = run_cli(capsys, "compare", "lb_cluster", redundant, *flags)
    assert code == 0, err
    assert "\nlb_cluster " in out and "\nredundant_lb " in out
    assert "paired difference in uptime" in out


def test_compare_files_whose_experiments_differ_needs_only_the_flags_that_settle_it(
    capsys, small, tmp_path
):
    """Two files that disagree on reps and horizon: refused, naming the setting, until the
    command line gives it; a flag settles it for every file."""
    other = tmp_path / "other.toml"
    other.write_text(SMALL.replace("reps = 2", "reps = 3").replace('"30m"', '"20m"'))
    code, _, err = run_cli(capsys, "compare", small, other, "--workers", "1")
    assert code == 2 and "differ in reps (2 and 3): give --reps" in err
    code, _, err = run_cli(capsys, "compare", small, other, "--workers", "1", "--reps", "1")
    assert code == 2 and "differ in horizon" in err and "give --horizon" in err
    code, out, err = run_cli(
        capsys, "compare", small, other, "--workers", "1", "--reps", "1", "--horizon", "10m"
    )
    assert code == 0, err
    assert out.startswith("1 replication of 10 min")


def test_a_workload_that_uses_a_parameter_follows_set_and_refuses_a_grid_over_it(capsys, tmp_path):
    """``rate = "${rate}"``: --set rate=6 sends six times the requests of the default;
    a --grid over rate is refused (one workload serves every grid point)."""
    path = tmp_path / "paced.toml"
    path.write_text(
        SMALL.replace('mttf = "20m"', 'mttf = "20m"\nrate = 1.0').replace(
            "rate = 1.0\n\n[experiment]", 'rate = "${rate}"\n\n[experiment]'
        )
    )
    design = load_design(path)
    assert design.workload == {"rate": 1.0}
    assert design.workload_for({"rate": 6.0}) == {"rate": 6.0}
    assert design.workload_for({"mttf": 60.0, "other": 1}) == {"rate": 1.0}
    issued = []
    for extra in ((), ("--set", "rate=6")):
        code, out, err = run_cli(capsys, "run", path, "--workers", "1", "--json", *extra)
        assert code == 0, err
        issued.append(json.loads(out.splitlines()[0])["metrics"]["issued"]["mean"])
    assert 4 * issued[0] < issued[1] < 8 * issued[0]
    code, _, err = run_cli(capsys, "sweep", path, "--workers", "1", "--grid", "rate=1,2")
    assert code == 2 and "--grid rate: the [workload] of paced uses it" in err
    code, _, err = run_cli(capsys, "sweep", path, "--workers", "1", "--grid", "workers=1,2")
    assert code == 0, err


def test_sweep_uses_the_files_grid_unless_given_one(capsys, small, tmp_path):
    gridded = tmp_path / "gridded.toml"
    gridded.write_text(SMALL.replace("seed = 4", "seed = 4\ngrid = { workers = [1, 3] }"))
    code, out, err = run_cli(capsys, "sweep", gridded, "--workers", "1", "--reps", "1")
    assert code == 0, err
    rows = [line.split() for line in out.splitlines() if line.startswith("gridded ")]
    assert [r[1] for r in rows] == ["1", "3"]
    code, out, err = run_cli(capsys, "sweep", gridded, "--workers", "1", "--reps", "1",
                             "--grid", "mttf=10m,1h")  # fmt: skip
    assert code == 0, err
    rows = [line.split() for line in out.splitlines() if line.startswith("gridded ")]
    assert [r[1] for r in rows] == ["10m", "1h"]
    code, out, err = run_cli(capsys, "sweep", small, "--workers", "1")
    assert code == 2 and "required: --grid" in err


def test_a_file_without_traffic_reports_uptime(capsys, small, tmp_path):
    quiet = tmp_path / "quiet.toml"
    quiet.write_text(SMALL.replace("rate = 1.0", 'kind = "none"'))
    code, out, err = run_cli(capsys, "run", quiet, "--workers", "1")
    assert code == 0, err
    assert "no traffic (uptime only)" in out


def test_check_prints_one_line_per_valid_file(capsys, small):
    code, out, err = run_cli(capsys, "check", small, LB)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{small}: ok: design 'small', 2 components (2 servers)")
    assert "up = lb & k_of_n(2, web)" in lines[1]


@pytest.mark.parametrize(
    "old, new, message",
    [
        (
            "workers = 2 ",
            "workers = 0 ",
            ":11: [server.web] workers must be an integer >= 1, got 0",
        ),
        ("[server.web]", "[sever.web]", ":9: unknown section [sever] (did you mean 'server'?)"),
        ("rate = 1.0", "rate = ", ":16: TOML syntax error: Invalid value (column 8)"),
        ('"k_of_n(1, web)"', '"k_of_n(1, wbe)"', ":3: [design] up: 'wbe' is no component"),
    ],
)
def test_check_refuses_a_bad_file_with_exit_2_and_one_line(capsys, tmp_path, old, new, message):
    path = tmp_path / "design.toml"
    assert old in SMALL
    path.write_text(SMALL.replace(old, new, 1))
    code, out, err = run_cli(capsys, "check", path)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"hasim: {path}{message}")


def test_run_refuses_a_bad_file_in_one_line(capsys, tmp_path):
    path = tmp_path / "design.toml"
    path.write_text(SMALL.replace('mean = "5ms"', 'mean = "5 parsecs"'))
    code, out, err = run_cli(capsys, "run", path, "--workers", "1")
    assert code == 2 and err.count("\n") == 1
    assert ":12: [server.web] service_time.mean must be a duration >= 0" in err


def _png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_draw_writes_a_png(capsys, tmp_path):
    out_path = tmp_path / "design.png"
    code, out, err = run_cli(capsys, "draw", str(ROOT / "models/three_tier.toml"), "-o", out_path)
    assert code == 0, err
    assert "wrote the drawing of" in err
    width, height = _png_size(out_path)
    assert 600 <= width <= 4000 and 400 <= height <= 4000
    assert 10_000 < out_path.stat().st_size < 2_000_000


def test_draw_takes_parameters_and_refuses_a_bad_suffix(capsys, tmp_path):
    small_png, big_png = tmp_path / "a.png", tmp_path / "b.png"
    assert run_cli(capsys, "draw", LB, "-o", small_png)[0] == 0
    assert run_cli(capsys, "draw", LB, "-o", big_png, "--set", "servers=6")[0] == 0
    assert _png_size(big_png)[0] > _png_size(small_png)[0]  # six servers need a wider picture
    code, _, err = run_cli(capsys, "draw", LB, "-o", tmp_path / "a.nope")
    assert code == 2 and "-o: FILE must end in one of" in err


def test_models_lists_a_design_files_parameters_with_their_comments(capsys, small):
    code, out, err = run_cli(capsys, "models", small)
    assert code == 0, err
    assert out.splitlines()[0].startswith("small")
    assert any(line.split()[:2] == ["mttf", "20m"] and "mean time to failure" in line
               for line in out.splitlines())  # fmt: skip


CHAOTIC = """\
[design]
up = "k_of_n(1, web)"

[server.web]
count = 2
failures = { ttf = { kind = "exponential", mean = "1000y" }, ttr = "5m" }

[workload]
rate = 1.0

[[fault]]
kind = "crash"
target = "web0"
at = "10m"
duration = "5m"

[[fault]]
kind = "crash"
target = "web1"
at = "10m"
duration = "5m"
"""

MORE_CHAOS = """\
[[fault]]
kind = "crash"
target = "web0"
at = "20m"
duration = "5m"

[[fault]]
kind = "crash"
target = "web1"
at = "20m"
duration = "5m"
"""


def test_a_files_fault_schedule_applies_in_every_run_and_chaos_adds_to_it(capsys, tmp_path):
    """No random failure in an hour (MTTF 1000 y): the downtime is the schedules' alone."""
    path, extra = tmp_path / "chaotic.toml", tmp_path / "more.toml"
    path.write_text(CHAOTIC)
    extra.write_text(MORE_CHAOS)
    code, out, err = run_cli(capsys, "check", path)
    assert code == 0, err
    assert "chaos schedule of 2 faults" in out
    flags = ["--reps", "2", "--horizon", "1h", "--workers", "1", "--json"]
    code, out, err = run_cli(capsys, "run", path, *flags)
    assert code == 0, err
    metrics = json.loads(out)["metrics"]
    assert metrics["downtime"]["ci95"] == [300.0, 300.0] and metrics["incidents"]["mean"] == 1
    code, out, err = run_cli(capsys, "run", path, *flags, "--chaos", extra)
    assert code == 0, err
    metrics = json.loads(out)["metrics"]
    assert metrics["downtime"]["ci95"] == [600.0, 600.0] and metrics["incidents"]["mean"] == 2
    code, out, err = run_cli(capsys, "run", path, *flags, "--no-traffic")  # state only
    assert code == 0, err
    assert json.loads(out)["metrics"]["downtime"]["ci95"] == [300.0, 300.0]


def test_check_refuses_a_fault_on_an_unknown_component_with_its_line(capsys, tmp_path):
    path = tmp_path / "chaotic.toml"
    path.write_text(CHAOTIC.replace('target = "web1"', 'target = "web7"'))
    code, out, err = run_cli(capsys, "check", path)
    assert code == 2
    assert f"{path}:17: [[fault]] no component named 'web7'" in err
    assert len(err.strip().splitlines()) == 1


def test_draw_shows_a_balancers_preset_checks_and_fail_open():
    from hasim.designfile import Design
    from hasim.designfile.drawing import layout

    text = """\
[server.web]
count = 2

[balancer.lb]
preset = "alb"
backends = ["web"]

[balancer.web_lb]
backends = ["web"]
health_check = { preset = "nlb" }

[balancer.edge]
preset = "envoy"
backends = ["lb", "web_lb"]
when_all_unhealthy = "reject"
health_check = { interval = "2s", unhealthy_after = 3 }
"""
    boxes = layout(Design(text, "x.toml"))["boxes"]
    assert boxes["lb"][4][1] == "ALB · round robin"
    assert boxes["lb"][4][4] == "checks 30s ×2 · fail-open"
    assert boxes["web_lb"][4][1] == "balancer · round robin"
    assert boxes["web_lb"][4][4] == "NLB checks 30s ×2"  # no preset: rejects with none healthy
    assert boxes["edge"][4][1] == "Envoy · round robin"
    assert boxes["edge"][4][4] == "checks 2s ×3 · ejection · panic <50%"
