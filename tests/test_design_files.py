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


# -- presets, resilience, WARS, coverage_on, [[fault]]: the file against the same Python ---------

MESH = """\
[design]
up = "lb & k_of_n(2, web)"

[server.web]
count = 3
workers = 2
service_time = { kind = "exponential", mean = "20ms" }
failures = { ttf = { kind = "exponential", mean = "4m" }, ttr = "1m" }

[balancer.lb]
preset = "alb"
backends = ["web"]
when_all_unhealthy = "reject"
health_check = { preset = "alb", interval = "10s" }
outlier_detection = { preset = "envoy", consecutive_errors = 3, max_ejected_share = 0.5 }
timeout = "500ms"

[workload]
rate = 60
timeout = "1s"
retry = { attempts = 3, budget = { preset = "envoy", min_concurrent = 2 } }
hedge = { after = "50ms" }
throttle = { k = 1.5, window = "30s" }

[[fault]]
kind = "slow"
target = "web1"
at = "3m"
duration = "2m"
factor = 20

[[fault]]
kind = "crash"
target = "web2"
at = "6m"
duration = "1m"
"""


def _mesh_in_python(sim):
    web = [
        hs.Server(sim, f"web{i}", workers=2, service_time=hs.Exponential(mean=0.02),
                  failures=hs.Failures(ttf=hs.Exponential(mean=240.0), ttr=hs.Deterministic(60.0)))
        for i in range(3)
    ]  # fmt: skip
    lb = hs.LoadBalancer.preset(
        "alb", sim, "lb", backends=web, when_all_unhealthy="reject",
        health_check=hs.HealthCheck.preset("alb", interval=10.0),
        outlier_detection=hs.OutlierDetection.preset(
            "envoy", consecutive_errors=3, max_ejected_share=0.5),
        timeout=0.5,
    )  # fmt: skip
    sim.up_when(hs.all_of(lb, hs.k_of_n(2, *web)))
    hs.Chaos(sim, [hs.Slow("web1", at=180.0, duration=120.0, factor=20.0),
                   hs.Crash("web2", at=360.0, duration=60.0)], "faults")  # fmt: skip
    return lb


def _mesh_clients_in_python(sim, entry):
    hs.OpenLoop(
        sim, "users", target=entry, rate=60, timeout=1.0,
        retry=hs.Retry(attempts=3, budget=hs.RetryBudget.preset("envoy", min_concurrent=2)),
        hedge=hs.Hedge(after=0.05), throttle=hs.AdaptiveThrottle(k=1.5, window=30.0),
    )  # fmt: skip


def _both(text, build, clients, horizon, seed=7):
    """The run of the file and of the Python design: names, summary, fault history."""
    d = design(text)
    out = []
    for make, attach in ((d.build, as_workload(d.workload)), (build, clients)):
        sim = hs.Simulation(seed=seed)
        entry = make(sim)
        attach(sim, entry)
        result = sim.run(until=horizon, warmup=30.0)
        out.append((list(sim.components), result.summary(), result.fault_history().to_toml(),
                    sim))  # fmt: skip
    return out


def _assert_same(file_run, python_run):
    names_f, summary_f, faults_f, _ = file_run
    names_p, summary_p, faults_p, _ = python_run
    assert names_f == names_p
    differ = {k: (summary_p[k], summary_f[k]) for k in summary_p
              if not _same(summary_p[k], summary_f[k])}  # fmt: skip
    assert not differ
    assert faults_f == faults_p


def test_presets_outlier_detection_budgets_hedges_throttles_and_faults_as_in_python():
    """Every new key at once: the same components, the same numbers, bit for bit."""
    d = design(MESH)
    built = d.check()
    lb = built.by_name["lb"]
    assert lb.when_all_unhealthy == "reject"  # the explicit key over the ALB's fail-open
    assert lb.health_check == hs.HealthCheck.preset("alb", interval=10.0)
    assert lb.outlier_detection.interval == 10.0 and lb.outlier_detection.eject_at_least_one
    assert d.workload.retry.budget == hs.RetryBudget(kind="concurrent", min_concurrent=2)
    assert built.chaos is not None and len(built.chaos.actions) == 2
    file_run, python_run = _both(MESH, _mesh_in_python, _mesh_clients_in_python, 10 * hs.minutes)
    _assert_same(file_run, python_run)
    summary, sim = file_run[1], file_run[3]
    users = sim["users"]
    assert summary["issued"] > 0 and users.hedges > 0  # hedges were sent
    history = file_run[2]  # the schedule's faults are in the fault history
    assert 'kind = "slow"' in history and "at = 360.0" in history


def test_a_balancer_preset_alone_takes_its_health_check_and_fail_open():
    text = MESH.replace('when_all_unhealthy = "reject"\n', "").replace(
        'health_check = { preset = "alb", interval = "10s" }\n', ""
    )
    lb = design(text).check().by_name["lb"]
    assert lb.health_check == hs.HealthCheck.preset("alb")
    assert lb.when_all_unhealthy == "fail_open"
    full = text.replace(
        '{ preset = "envoy", consecutive_errors = 3, max_ejected_share = 0.5 }',
        '{ consecutive_errors = 4, interval = "5s", eject_at_least_one = true }',
    )
    od = design(full).check().by_name["lb"].outlier_detection
    assert od == hs.OutlierDetection(consecutive_errors=4, interval=5.0, eject_at_least_one=True)


@pytest.mark.parametrize(
    "budget, expected",
    [
        ('{ preset = "grpc" }', hs.RetryBudget.preset("grpc")),
        ('{ kind = "tokens", max_tokens = 20, token_ratio = 0.5 }',
         hs.RetryBudget(kind="tokens", max_tokens=20.0, token_ratio=0.5)),
        ('{ ratio = 0.1, min_per_second = 1, window = "30s" }',
         hs.RetryBudget(ratio=0.1, min_per_second=1.0, window=30.0)),
    ],
)  # fmt: skip
def test_retry_budget_tables_and_presets(budget, expected):
    text = MESH.replace('{ preset = "envoy", min_concurrent = 2 }', budget)
    assert design(text).workload.retry.budget == expected


def test_the_new_workload_keys_stay_picklable_and_a_throttle_cannot_drive_a_store():
    import pickle

    workload = design(MESH).workload
    assert isinstance(workload, FileWorkload) and workload.throttle.k == 1.5
    assert pickle.loads(pickle.dumps(workload)) == workload
    with pytest.raises(DesignError, match=r"\[workload\] throttle cannot apply to the store 'kv'"):
        design(KITCHEN + "throttle = { k = 2 }\n")


def test_a_file_with_faults_runs_in_worker_processes(tmp_path):
    """The schedule travels with the file: processes give the serial runs."""
    path = tmp_path / "mesh.toml"
    path.write_text(MESH)
    settings = dict(horizon=8 * hs.minutes, reps=2, workload=load_design(path).workload)
    a = hs.Experiment(str(path), **settings).run(executor="processes", workers=2).runs
    b = hs.Experiment(str(path), **settings).run(executor="serial").runs
    assert (a["issued"] > 0).all() and (a["incidents"] > 0).all()
    assert list(a["availability"]) == list(b["availability"])
    assert list(a["uptime"]) == list(b["uptime"])


QUORUM = """\
[design]
up = "serving(kv)"

[network]
latency = { kind = "exponential", mean = "1ms" }

[store.kv]
kind = "quorum"
n = 3
r = 1
w = 1
service_time = "1ms"
read_service_time = { kind = "exponential", mean = "2ms" }
write_service_time = { kind = "lognormal", median = "4ms", sigma = 0.5 }
wars.write = { kind = "exponential", mean = "10ms" }
wars.ack = "1ms"
wars.read = { kind = "exponential", mean = "2ms" }
wars.response = "500us"
failures = { ttf = { kind = "exponential", mean = "5m" }, ttr = "1m" }

[workload]
rate = 40
timeout = "1s"
read_share = 0.7
"""


def _quorum_in_python(sim):
    from hasim.replication import QuorumStore

    hs.Network(sim, latency=hs.Exponential(mean=0.001))
    kv = QuorumStore(
        sim, "kv", n=3, r=1, w=1, service_time=0.001,
        read_service_time=hs.Exponential(mean=0.002),
        write_service_time=hs.LogNormal(median=0.004, sigma=0.5),
        wars=hs.WARS(write=hs.Exponential(mean=0.01), ack=0.001,
                     read=hs.Exponential(mean=0.002), response=0.0005),
        failures=hs.Failures(ttf=hs.Exponential(mean=300.0), ttr=hs.Deterministic(60.0)),
    )  # fmt: skip
    from hasim.structure import k_of_n

    sim.up_when(k_of_n(1, *kv.replicas))
    return kv


def test_a_quorum_store_with_wars_and_service_times_by_kind_as_in_python():
    kv = design(QUORUM).check().by_name["kv"]
    assert kv.wars == hs.WARS(write=hs.Exponential(mean=0.01), ack=0.001,
                              read=hs.Exponential(mean=0.002), response=0.0005)  # fmt: skip
    assert kv.write_service_time == hs.LogNormal(median=0.004, sigma=0.5)

    def clients(sim, entry):
        hs.KVWorkload(sim, "users", target=entry, rate=40, timeout=1.0, read_share=0.7)

    file_run, python_run = _both(QUORUM, _quorum_in_python, clients, 6 * hs.minutes)
    _assert_same(file_run, python_run)
    assert file_run[1]["issued"] > 0 and file_run[2].count("[[fault]]") > 0


FAILOVER = """\
[design]
up = "vip"

[server.web]
count = 2
workers = 2
service_time = { kind = "exponential", mean = "5ms" }
failures = { ttf = { kind = "exponential", mean = "3m" }, ttr = "1m" }

[failover.vip]
primary = "web0"
standby = "web1"
coverage = 0.5
coverage_on = "any"

[workload]
rate = 20
timeout = "1s"
"""


def test_failover_coverage_on_passes_through_as_in_python():
    assert design(FAILOVER).check().by_name["vip"].coverage_on == "any"

    def build(sim):
        web = [hs.Server(sim, f"web{i}", workers=2, service_time=hs.Exponential(mean=0.005),
                         failures=hs.Failures(ttf=hs.Exponential(mean=180.0),
                                              ttr=hs.Deterministic(60.0)))
               for i in range(2)]  # fmt: skip
        vip = hs.ActivePassive(sim, "vip", primary=web[0], standby=web[1], coverage=0.5,
                               coverage_on="any")  # fmt: skip
        sim.up_when(hs.all_of(vip))
        return vip

    def clients(sim, entry):
        hs.OpenLoop(sim, "users", target=entry, rate=20, timeout=1.0)

    file_run, python_run = _both(FAILOVER, build, clients, 20 * hs.minutes)
    _assert_same(file_run, python_run)
    active = design(FAILOVER.replace('"any"', '"active"'))
    assert active.check().by_name["vip"].coverage_on == "active"


def test_the_docs_fragments_of_the_new_keys_check():
    """The docs' balancer, quorum, workload and [[fault]] examples, in a design, are valid."""
    docs = (ROOT / "docs" / "design_files.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", docs, re.S)
    web = '[zone.az1]\n\n[server.web]\ncount = 3\nzone = "az1"\n'
    web += 'failures = { ttf = "30d", ttr = "20m" }\n'
    lb = '\n[balancer.lb]\nbackends = ["web"]\n'
    found = {"balancer": 0, "store": 0, "workload": 0, "fault": 0}
    for block in blocks:
        if block.startswith("[balancer.lb]\npreset"):
            found["balancer"] += 1
            built = design(web + "\n" + block).check()
            assert built.by_name["lb"].when_all_unhealthy == "reject"
        elif block.startswith("[store.kv]"):
            found["store"] += 1
            assert design(block).check().by_name["kv"].wars is not None
        elif "budget = { preset" in block:
            found["workload"] += 1
            assert design(web + lb + "\n" + block).workload.hedge is not None
        elif block.startswith("[[fault]]"):
            found["fault"] += 1
            assert len(design(web + "\n" + block).check().chaos.actions) == 2
    assert found == {"balancer": 1, "store": 1, "workload": 1, "fault": 1}


# -- malformed files: one line naming the file, the line, the table and the key --------------------


def _lb(line: str) -> tuple[str, str]:
    """An edit of BASE: ``line`` under the balancer's backends (line 17)."""
    return 'backends = ["web"]', f'backends = ["web"]\n{line}'


def _end(text: str) -> tuple[str, str]:
    """An edit of BASE: ``text`` after its last line, a blank line between (from line 19)."""
    return 'timeout = "1s" }\n', f'timeout = "1s" }}\n\n{text}\n'


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
    # the keys of presets, resilience, WARS and [[fault]]
    ("when_all_unhealthy", _lb('when_all_unhealthy = "open"'),
     r"\[balancer.lb\] when_all_unhealthy must be one of 'fail_open', 'reject', got 'open'", 17),
    ("balancer preset", ("[balancer.lb]\n", '[balancer.lb]\npreset = "abl"\n'),
     r"\[balancer.lb\] preset must be one of alb, .*\(did you mean 'alb'\?\), got 'abl'", 16),
    ("outlier preset", _lb('outlier_detection = { preset = "envy" }'),
     r"\[balancer.lb\] outlier_detection.preset must be one of envoy \(did you mean 'envoy'\?\)",
     17),
    ("outlier interval", _lb("outlier_detection = { interval = 0 }"),
     r"\[balancer.lb\] outlier_detection.interval must be a duration > 0.* or \"none\", got 0", 17),
    ("outlier eject", _lb('outlier_detection = { eject_at_least_one = "yes" }'),
     r"\[balancer.lb\] outlier_detection.eject_at_least_one must be true or false, got 'yes'", 17),
    ("throttle", _end("[workload]\nrate = 1\nthrottle = { k = 0 }"),
     r"\[workload\] throttle.k must be a number > 0, got 0", 21),
    ("throttle key", _end('[workload]\nrate = 1\nthrottle = { windw = "1m" }'),
     r"\[workload\] unknown key 'throttle.windw' \(did you mean 'throttle.window'\?\)", 21),
    ("hedge", _end('[workload]\nrate = 1\nhedge = { after = "soon" }'),
     r"\[workload\] hedge.after must be a duration >= 0.*got 'soon'", 21),
    ("budget preset", _end('[workload]\nrate = 1\nretry = { budget = { preset = "envy" } }'),
     r"\[workload\] retry.budget.preset must be one of finagle, envoy, grpc "
     r"\(did you mean 'envoy'\?\), got 'envy'", 21),
    ("budget kind", _end('[workload]\nrate = 1\nretry = { budget = { kind = "bucket" } }'),
     r"\[workload\] retry.budget.kind must be one of 'window', 'concurrent', 'tokens', "
     r"got 'bucket'", 21),
    ("budget value", _end("[workload]\nrate = 1\nretry = { budget = { min_concurrent = -1 } }"),
     r"\[workload\] retry.budget.min_concurrent must be an integer >= 0, got -1", 21),
    ("wars", _end('[store.db]\nkind = "quorum"\nwars = { write = "fast" }'),
     r"\[store.db\] wars.write must be a duration \('250ms': always that long\) or a table", 21),
    ("wars key", _end('[store.db]\nkind = "quorum"\nwars = { wrte = "1ms" }'),
     r"\[store.db\] unknown key 'wars.wrte' \(did you mean 'wars.write'\?\)", 21),
    ("read_service_time", _end('[store.db]\nkind = "quorum"\nread_service_time = -1'),
     r"\[store.db\] read_service_time must be .*got -1", 21),
    ("coverage_on",
     _end('[failover.fo]\nprimary = "web0"\nstandby = "web1"\ncoverage_on = "all"'),
     r"\[failover.fo\] coverage_on must be one of 'active', 'any', got 'all'", 22),
    ("fault target", _end('[[fault]]\nkind = "crash"\ntarget = "web9"\nat = "1m"'),
     r"\[\[fault\]\] no component named 'web9'; did you mean 'web2'", 19),
    ("fault kind", _end('[[fault]]\nkind = "crsh"\ntarget = "web1"\nat = "1m"'),
     r"\[\[fault\]\] #1: a \[\[fault\]\] needs kind = one of 'crash', .*got kind 'crsh'", 19),
    ("fault field", _end('[[fault]]\nkind = "crash"\ntarget = "web1"\nat = "1m"\n\n'
                         '[[fault]]\nkind = "crash"\ntarget = "web1"'),
     r"\[\[fault\]\] #2: a crash fault needs at", 24),
    ("fault overlap", _end('[[fault]]\nkind = "crash"\ntarget = "web1"\nat = "1m"\n\n'
                           '[[fault]]\nkind = "crash"\ntarget = "web1"\nat = "2m"'),
     r"\[\[fault\]\] crash of 'web1' from 2 min .* overlaps crash of 'web1' from 1 min "
     r".*\(line 19\)", 24),
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
