"""Design files (hasim.designfile): the ready models as TOML, malformed files, the format."""

from __future__ import annotations

import importlib
import math
import re
from pathlib import Path

import pytest

import hasim as hs
from hasim.designfile import Design, DesignError, FileWorkload, load_design
from hasim.experiment.design import as_workload

ROOT = Path(__file__).resolve().parents[1]
MODELS = ["single_server", "lb_cluster", "active_passive", "redundant_lb", "zone_spread",
          "quorum_kv", "raft_cluster", "three_tier"]  # fmt: skip

# Failures every few minutes, so a short run has crashes, repairs and failovers to compare.
FAST = {"mttf": 5 * hs.minutes, "mttr": 1 * hs.minutes}
EXTRA = {
    "lb_cluster": {"lb_mttf": 10 * hs.minutes},
    "redundant_lb": {"lb_mttf": 8 * hs.minutes},
    "zone_spread": {"zone_mttf": 10 * hs.minutes, "zone_mttr": 2 * hs.minutes},
    "three_tier": {"db_mttf": 6 * hs.minutes, "db_mttr": 1 * hs.minutes},
}
STORES = {"quorum_kv", "raft_cluster", "three_tier"}


def _run(build, params, workload, horizon):
    sim = hs.Simulation(seed=11)
    entry = build(sim, **params)
    as_workload(workload)(sim, entry)
    result = sim.run(until=horizon, warmup=1 * hs.minutes)
    return list(sim.components), result.summary(), len(result.fault_history())


def _same(a, b):
    return a == b or (
        isinstance(a, float) and math.isnan(a) and isinstance(b, float) and math.isnan(b)
    )


@pytest.mark.parametrize("name", MODELS)
def test_design_file_gives_the_same_numbers_as_the_python_model(name):
    """Same names, same order, same parameters: the same seed gives bit-identical summaries."""
    module = importlib.import_module(f"hasim.models.{name}")
    design = load_design(ROOT / "models" / f"{name}.toml")
    assert set(design.params) == set(module.PARAMS)  # --set and --grid take the same names
    params = {**FAST, **EXTRA.get(name, {})}
    workload = getattr(module, "WORKLOAD", {"rate": 10.0})
    assert design.workload == workload  # and the same default workload
    horizon = (10 if name in STORES else 20) * hs.minutes
    names_py, summary_py, faults_py = _run(module.build, params, workload, horizon)
    names_file, summary_file, faults_file = _run(design.build, params, workload, horizon)
    assert names_file == names_py
    assert summary_py["issued"] > 0 and faults_py > 0  # something happened to compare
    differ = {k: (summary_py[k], summary_file[k]) for k in summary_py
              if not _same(summary_py[k], summary_file[k])}  # fmt: skip
    assert not differ
    assert faults_file == faults_py


def test_design_file_uptime_matches_without_traffic_at_the_defaults():
    module = importlib.import_module("hasim.models.three_tier")
    design = load_design(ROOT / "models" / "three_tier.toml")
    runs = []
    for build in (module.build, design.build):
        sim = hs.Simulation(seed=5)
        build(sim, db_mttf=2 * hs.hours, mttf=3 * hs.hours)
        runs.append(sim.run(until=1 * hs.days).summary())
    assert runs[0]["incidents"] > 0
    assert runs[0]["uptime"] == runs[1]["uptime"] and runs[0]["downtime"] == runs[1]["downtime"]


def test_experiment_runs_a_design_file_like_a_model(tmp_path):
    """hs.Experiment takes a .toml path; the runs are the ready model's, seed for seed."""
    settings = dict(params={"mttf": 20 * hs.minutes}, horizon=1 * hs.hours, reps=2)
    by_file = hs.Experiment(str(ROOT / "models" / "single_server.toml"), **settings)
    by_name = hs.Experiment("single_server", **settings)
    a = by_file.run(executor="processes", workers=2).runs
    b = by_name.run(executor="serial").runs
    assert list(a["uptime"]) == list(b["uptime"])
    assert (a["incidents"] > 0).any()


def test_examples_load_and_run():
    for path in sorted((ROOT / "examples").glob("*.toml")):
        design = load_design(path)
        sim = hs.Simulation(seed=1)
        entry = design.build(sim)
        workload = as_workload(design.workload)
        if workload is not None:
            workload(sim, entry)
        summary = sim.run(until=3 * hs.minutes).summary()
        assert summary["window"] == 3 * hs.minutes and summary["ok"] > 0, path.name


# -- the format's parts --------------------------------------------------------------------------

BASE = """\
[design]
up = "lb & k_of_n(${needed}, web)"

[params]
servers = 3
needed = "${max(1, servers - 1)}"
workers = 4

[server.web]
count = "${servers}"
workers = "${workers}"
service_time = { kind = "exponential", mean = "5ms" }
failures = { ttf = { kind = "exponential", mean = "30d" }, ttr = "20m" }

[balancer.lb]
backends = ["web"]
health_check = { interval = "5s", timeout = "1s" }
"""


def design(text: str = BASE) -> Design:
    return Design(text, "design.toml")


def test_count_stamps_out_components_and_params_derive_from_each_other():
    built = design().inventory(servers=5)
    assert [n for k, n, _ in built.components if k == "server"] == [f"web{i}" for i in range(5)]
    assert built.groups == {"web": ["web0", "web1", "web2", "web3", "web4"]}
    assert built.up_text == "lb & k_of_n(4, web)"  # needed = servers - 1, computed
    assert built.entry_name == "lb"  # the last service defined is the entry by default
    assert built.by_name["web3"].workers == 4


def test_params_given_override_the_defaults_and_keep_their_types():
    d = design()
    assert d.resolve({}) == {"servers": 3, "needed": 2, "workers": 4}
    assert d.resolve({"needed": 3})["needed"] == 3
    text = BASE.replace("workers = 4", 'workers = 4\nslow = "2s"\nnothing = "none"')
    assert design(text).resolve({})["slow"] == 2.0 and design(text).resolve({})["nothing"] is None


def test_structure_expression_forms():
    def up(expr):
        return design(BASE.replace('"lb & k_of_n(${needed}, web)"', f'"{expr}"')).check()

    assert repr(up("lb & (web0 | web1)").structure) == "lb & (web0 | web1)"
    assert up("all_of(lb, majority(web))").structure.children[1].k == 2
    assert repr(up("any_of(web)").structure) == "web0 | web1 | web2"
    assert up("k_of_n(1, [web0, web2])").structure.n == 2


def test_a_workload_with_retries_is_a_picklable_file_workload():
    import pickle

    text = BASE + (
        '\n[workload]\nrate = 5\ntimeout = "1s"\n'
        'retry = { attempts = 3, backoff = { kind = "exponential", base = "50ms", cap = "1s" } }\n'
    )
    d = design(text)
    assert isinstance(d.workload, FileWorkload) and d.workload.retry.attempts == 3
    assert pickle.loads(pickle.dumps(d.workload)) == d.workload
    sim = hs.Simulation(seed=2)
    d.workload(sim, d.build(sim))
    result = sim.run(until=2 * hs.minutes)
    assert result.summary()["issued"] > 0


def test_health_check_presets():
    preset = BASE.replace(
        '{ interval = "5s", timeout = "1s" }', '{ preset = "alb", interval = "10s" }'
    )
    check = design(preset).check().by_name["lb"].health_check
    assert check == hs.HealthCheck.preset("alb", interval=10.0)
    typo = BASE.replace('{ interval = "5s", timeout = "1s" }', '{ preset = "abl" }')
    with pytest.raises(
        DesignError,
        match=r"design.toml:17: \[balancer.lb\] health_check.preset "
        r"must be one of alb, .*\(did you mean 'alb'\?\), got 'abl'",
    ):
        design(typo)


def test_gray_failures_crews_zones_and_links():
    text = """\
[crew.ops]
crews = 1

[zone.az1]
failures = { ttf = { kind = "exponential", mean = "90d" }, ttr = "2h" }

[server.web]
count = 2
zone = ["az1", "az2"]
failures = [
  { ttf = { kind = "exponential", mean = "30d" }, ttr = "20m", crews = "ops" },
  { kind = "slowdowns", every = "7d", lasting = "10m", factor = 5 },
]

[link.wire]
a = "web0"
b = "web1"
latency = "1ms"
"""
    built = Design(text, "x.toml").check()
    web0, web1 = built.by_name["web0"], built.by_name["web1"]
    assert (web0.zone, web1.zone) == ("az1", "az2")
    assert isinstance(web0.failures[1], hs.Slowdowns)
    assert web0.failures[0].crews is built.by_name["ops"]
    assert ("web0", "web1", "link") in built.arrows


KITCHEN = """\
[design]
up = "sw & serving(kv) & any_of(web) & lbw"
[params]
n = 2
[node.sw]
failures = { kind = "flapping", every = "1d", lasting = "5m", down = "2s", up = "10s" }
[store.kv]
kind = "single_copy"
workers = 2
service_time.kind = "mixture"
service_time.components = ["1ms", { kind = "exponential", mean = "10ms" }]
service_time.weights = [0.9, 0.1]
failures = [
  { kind = "stalls", every = "1d", lasting = "30s" },
  { ttf = "20d", ttr = { kind = "uniform", low = "5m", high = "15m" } },
]
[app_server.web]
count = "${n}"
backend = "kv"
timeout = "none"
[balancer.lbw]
backends = ["web"]
policy = { kind = "weighted_round_robin", weights = { web0 = 2, web1 = 1 } }
[link.l1]
a = "lbw"
b = "web0"
latency = { kind = "empirical", data = ["1ms", "2ms"] }
[workload]
rate = 5
deadline = "5s"
retry.attempts = 2
retry.backoff = { kind = "constant", delay = "100ms" }
retry.retry_on = ["timeout", "error"]
"""


def test_flapping_stalls_mixtures_weighted_policies_links_and_a_single_copy_store_run():
    d = Design(KITCHEN, "kitchen.toml")
    assert isinstance(d.workload, FileWorkload) and d.workload.deadline == 5.0
    sim = hs.Simulation(seed=3)
    d.workload(sim, d.build(sim))
    summary = sim.run(until=5 * hs.minutes).summary()
    assert summary["ok"] > 0
    built = d.check()
    assert isinstance(built.by_name["lbw"].policy, hs.WeightedRoundRobin)
    assert repr(built.structure) == "sw & kv & (web0 | web1) & lbw"  # serving(kv): kv is up


def test_a_closed_loop_cannot_drive_a_store():
    text = KITCHEN.replace("rate = 5", "users = 5")
    with pytest.raises(
        DesignError, match=r"\[workload\] a closed loop cannot drive the store 'kv'"
    ):
        Design(text, "kitchen.toml")


def test_the_docs_first_example_checks_as_the_docs_say():
    docs = (ROOT / "docs" / "design_files.md").read_text()
    text = re.search(r"## A first file\n\n```toml\n(.*?)```", docs, re.S)[1]
    shown = re.search(r"\$ hasim check web.toml\n(.*)\n", docs)[1]
    assert Design(text, "web.toml").summary() == shown


# -- malformed files: one line naming the file, the line, the table and the key --------------------

BAD = [
    # (what, edit of BASE: (old, new), message pattern, line of the key)
    ("toml syntax", ("workers = 4\n", "workers = \n"), r"TOML syntax error: Invalid value", 7),
    ("unknown kind", ("[server.web]", "[sever.web]"),
     r"unknown section \[sever\] \(did you mean 'server'\?\)", 9),
    ("unknown key", ('workers = "${workers}"', 'wokers = "${workers}"'),
     r"\[server.web\] unknown key 'wokers' \(did you mean 'workers'\?\)", 11),
    ("wrong type", ('workers = "${workers}"', 'workers = "many"'),
     r"\[server.web\] workers must be an integer >= 1, got 'many'", 11),
    ("out of range", ('workers = "${workers}"', "workers = 0"),
     r"\[server.web\] workers must be an integer >= 1, got 0", 11),
    ("distribution kind", ('kind = "exponential", mean = "5ms"', 'kind = "expo", mean = "5ms"'),
     r"\[server.web\] service_time.kind must be a distribution kind, one of exponential, .*"
     r"\(did you mean 'exponential'\?\), got 'expo'", 12),
    ("bad duration", ('timeout = "1s"', 'timeout = "1 fortnight"'),
     r"\[balancer.lb\] health_check.timeout must be a duration > 0.*got '1 fortnight'", 17),
    ("unknown reference", ('backends = ["web"]', 'backends = ["wbe"]'),
     r"\[balancer.lb\] backends refers to an unknown component 'wbe' \(did you mean 'web'\?\)", 16),
    ("duplicate name", ("[balancer.lb]", "[server.lb]\n\n[balancer.lb]"),
     r"\[balancer.lb\] duplicate name: \[server.lb\] has it too", 17),
    ("structure syntax", ("lb & k_of_n(${needed}, web)", "lb & & web"),
     r"\[design\] up: 'lb & & web' is not a valid expression", 2),
    ("structure name", ("lb & k_of_n(${needed}, web)", "lb & k_of_n(2, wbe)"),
     r"\[design\] up: 'wbe' is no component or group of the design \(did you mean 'web'\?\)", 2),
    ("structure function", ("lb & k_of_n(${needed}, web)", "lb & k_out_of_n(2, web)"),
     r"calls k_out_of_n\(\), which is not one of .* \(did you mean 'k_of_n'\?\)", 2),
    ("unknown param", ('workers = "${workers}"', 'workers = "${wrkers}"'),
     r"\[server.web\] workers: unknown parameter 'wrkers' in \$\{...\} "
     r"\(did you mean 'workers'\?\)", 11),
    ("missing key", ('backends = ["web"]\n', ""),
     r"\[balancer.lb\] missing required key 'backends'", 15),
    ("experiment reps", ("[server.web]", "[experiment]\nreps = 0\n\n[server.web]"),
     r"\[experiment\] reps must be an integer >= 1, got 0", 10),
    ("experiment metric",
     ("[server.web]", '[experiment]\ntarget = "uptme:rel=0.1"\n\n[server.web]'),
     r"\[experiment\] target metric must be one of .*\(did you mean 'uptime'\?\), got 'uptme'", 10),
    ("defined below", ('backends = ["web"]', 'backends = ["late"]\n\n[server.late]'),
     r"\[balancer.lb\] backends refers to 'late', which is defined further down", 16),
    ("workload target",
     ('timeout = "1s" }\n',
      'timeout = "1s" }\n\n[workload]\nrate = 1\ntarget = "lbb"\nretry = { attempts = 2 }\n'),
     r"\[workload\] target refers to an unknown component 'lbb' \(did you mean 'lb'\?\)", 21),
    ("policy typo", ('backends = ["web"]', 'backends = ["web"]\npolicy = "round_robbin"'),
     r"\[balancer.lb\] policy must be one of round_robin, .* \(did you mean 'round_robin'\?\)", 17),
    ("failure kind", ("failures = { ttf", 'failures = { kind = "crsh", ttf'),
     r"\[server.web\] failures kind must be one of crash, .*\(did you mean 'crash'\?\), got 'crsh'",
     13),
    ("param cycle", ('workers = 4', 'workers = "${servers * workers}"'),
     r"\[params\] workers: .*unknown parameter|\[params\] workers: parameters refer to each other",
     7),
]  # fmt: skip


@pytest.mark.parametrize("what, edit, pattern, line", BAD, ids=[b[0] for b in BAD])
def test_a_malformed_file_is_refused_in_one_line_naming_the_key(what, edit, pattern, line):
    old, new = edit
    assert old in BASE
    with pytest.raises(DesignError, match=pattern) as caught:
        design(BASE.replace(old, new, 1))
    error = caught.value
    assert error.source == "design.toml" and error.line == line
    assert str(error).startswith(f"design.toml:{line}: ") and "\n" not in str(error)


def test_constructor_errors_are_placed_on_their_table():
    text = BASE + '\n[store.db]\nkind = "quorum"\nn = 3\nr = 4\n'
    with pytest.raises(DesignError, match=r"design.toml:22: \[store.db\] QuorumStore 'db': r must"):
        design(text)


def test_unknown_parameters_given_to_build_are_refused():
    with pytest.raises(DesignError, match=r"\[params\] unknown parameter\(s\) \['wrkers'\] "
                       r"\(did you mean 'workers'\?\)"):  # fmt: skip
        design().build(hs.Simulation(seed=0), wrkers=2)


def test_a_missing_file_is_one_line():
    with pytest.raises(DesignError, match=r"no/such\.toml: cannot read the design file"):
        load_design("no/such.toml")


def test_every_ready_model_has_a_design_file():
    from hasim.experiment import model_names

    assert sorted(MODELS) == model_names()
    for name in MODELS:
        assert re.search(rf'name = "{name}"', (ROOT / "models" / f"{name}.toml").read_text())
