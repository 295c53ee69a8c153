"""Failure domains: a Domain is a Node whose outage takes its members down at the same instant.

Members: nodes whose ``zone`` is the domain's name, nodes listed in ``members``, and child
domains (``parent=``). A member gets ``fail(cause=domain.name, derived=True)`` when the domain
goes down and ``recover(domain.name)`` when it comes back.
"""

from __future__ import annotations

import pytest

import hasim as hs

ZONE_FAILS = hs.Failures(ttf=10, ttr=5)  # the domain is down 10-15, 25-30, ...


def _states(result: hs.RunResult, name: str) -> list[tuple]:
    timeline = result.timeline()
    rows = timeline[timeline["component"] == name].sort_values("start")
    return list(rows[["state", "start", "end"]].itertuples(index=False, name=None))


def _faults(sim, target=None):
    rows = [tuple(row) for row in sim.recorder.faults.values()]
    return [row for row in rows if target is None or row[1] == target]


def test_a_zone_outage_takes_its_members_down_at_the_same_instant(sim):
    """a and b are in az1 and down 10-15 with it; c in az2 is untouched."""
    hs.Domain(sim, "az1", failures=ZONE_FAILS)
    for name, zone in (("a", "az1"), ("b", "az1"), ("c", "az2")):
        hs.Server(sim, name, zone=zone)
    result = sim.run(until=20)
    zone = [("up", 0, 10), ("down", 10, 15), ("up", 15, 20)]
    assert _states(result, "az1") == _states(result, "a") == _states(result, "b") == zone
    assert _states(result, "c") == [("up", 0, 20)]
    assert _faults(sim) == [
        ("crash", "az1", 10, 15, "failure", None, False),
        ("crash", "a", 10, 15, "az1", None, True),
        ("crash", "b", 10, 15, "az1", None, True),
    ]


def test_the_system_sees_one_outage_when_its_only_zone_fails(sim):
    """Two servers in one zone: 'any up' is down exactly while the zone is."""
    hs.Domain(sim, "az1", failures=ZONE_FAILS)
    web = [hs.Server(sim, f"w{i}", zone="az1") for i in range(2)]
    sim.up_when(lambda: any(s.up for s in web))
    result = sim.run(until=20)
    assert _states(result, "system") == [("up", 0, 10), ("down", 10, 15), ("up", 15, 20)]


def test_a_member_down_for_its_own_reasons_stays_down_until_its_own_repair(sim, at):
    """a fails on its own at 12 (repair 10 s) while its zone is down 10-15: a is down 10-22,
    first for both causes, then for its own."""
    hs.Domain(sim, "az1", failures=ZONE_FAILS)
    a = hs.Node(sim, "a", zone="az1", failures=hs.Failures(ttf=12, ttr=10))
    seen = []
    for t in (11, 13, 16):
        at(t, lambda: seen.append(a.causes))
    result = sim.run(until=24)
    assert seen == [("az1",), ("az1", "failure"), ("failure",)]
    assert _states(result, "a") == [("up", 0, 10), ("down", 10, 22), ("up", 22, 24)]


def test_listed_members_form_a_common_cause_group(sim, at):
    """``members`` (nodes or names) fail with the group, wherever their zones are."""
    a = hs.Node(sim, "a", zone="az1")
    hs.Node(sim, "b", zone="az2")
    hs.Node(sim, "c", zone="az2")
    psu = hs.Domain(sim, "psu", kind="group", members=[a, "b"])
    at(3, psu.fail, "overload")
    at(4, psu.recover, "overload")
    result = sim.run(until=5)
    assert psu.members == (a, sim["b"])
    assert (
        _states(result, "a") == _states(result, "b") == [("up", 0, 3), ("down", 3, 4), ("up", 4, 5)]
    )
    assert _states(result, "c") == [("up", 0, 5)]


def test_a_node_in_a_zone_and_a_group_goes_down_for_either(sim, at):
    """Two domains, two causes: the node is down while either domain is."""
    zone = hs.Domain(sim, "az1")
    node = hs.Node(sim, "n", zone="az1")
    group = hs.Domain(sim, "psu", kind="group", members=["n"])
    at(1, zone.fail)
    at(2, group.fail)
    at(3, zone.recover)
    at(4, group.recover)
    result = sim.run(until=5)
    assert _states(result, "n") == [("up", 0, 1), ("down", 1, 4), ("up", 4, 5)]
    assert node.causes == ()


def test_a_region_outage_takes_down_its_zones_racks_and_their_nodes(sim):
    """Region eu down 10-15: its zones go down (derived, cause 'eu'), and each zone takes down
    its racks and nodes (cause: the zone), each level derived from the one above."""
    hs.Domain(sim, "eu", kind="region", failures=ZONE_FAILS)
    hs.Domain(sim, "eu-1", parent="eu")
    hs.Domain(sim, "eu-2", parent="eu")
    hs.Domain(sim, "r1", parent="eu-1", kind="rack")
    hs.Domain(sim, "us-1")
    for name, zone in (("a", "eu-1"), ("b", "eu-2"), ("c", "r1"), ("d", "us-1")):
        hs.Node(sim, name, zone=zone)
    result = sim.run(until=20)
    outage = [("up", 0, 10), ("down", 10, 15), ("up", 15, 20)]
    for name in ("eu", "eu-1", "eu-2", "r1", "a", "b", "c"):
        assert _states(result, name) == outage, name
    assert _states(result, "d") == [("up", 0, 20)]
    assert [(row[1], row[4], row[6]) for row in _faults(sim)] == [
        ("eu", "failure", False),
        ("eu-1", "eu", True),
        ("r1", "eu-1", True),
        ("c", "r1", True),
        ("a", "eu-1", True),
        ("eu-2", "eu", True),
        ("b", "eu-2", True),
    ]


def test_downtime_is_blamed_on_the_domain_that_caused_it(sim, at):
    """A rack member's failure in a region outage is blamed on the region, not on the member;
    the member's own failure is blamed on the member."""
    hs.Domain(sim, "eu", kind="region", failures=ZONE_FAILS)  # down 10-15
    hs.Domain(sim, "eu-1", parent="eu")
    hs.Domain(sim, "r1", parent="eu-1", kind="rack")
    node = hs.Node(sim, "c", zone="r1")
    sim.up_when(lambda: node.up)
    at(2, node.fail)
    at(4, node.recover)
    result = sim.run(until=20)
    blame = result.downtime_by_cause().set_index("cause")["downtime"].to_dict()
    assert blame == {"eu": 5.0, "c": 2.0}


def test_a_zone_down_on_its_own_stays_down_after_its_region_recovers(sim, at):
    """Zone eu-1 fails itself 12-20; region eu is down 10-15: eu-1 and its node are down 10-20."""
    hs.Domain(sim, "eu", kind="region", failures=ZONE_FAILS)
    hs.Domain(sim, "eu-1", parent="eu", failures=hs.Failures(ttf=12, ttr=8, cause="power"))
    hs.Node(sim, "a", zone="eu-1")
    result = sim.run(until=22)
    assert (
        _states(result, "eu-1")
        == _states(result, "a")
        == [
            ("up", 0, 10),
            ("down", 10, 20),
            ("up", 20, 22),
        ]
    )


def test_a_domain_down_before_the_run_takes_its_members_down_from_the_start(sim, at):
    """Failed while the design is built: the members are down from time 0."""
    zone = hs.Domain(sim, "az1")
    hs.Node(sim, "a", zone="az1")
    zone.fail("maintenance")
    at(5, zone.recover, "maintenance")
    result = sim.run(until=10)
    assert _states(result, "a") == [("down", 0, 5), ("up", 5, 10)]


def test_a_node_made_during_the_run_joins_its_zone(sim, at):
    """A server scaled out at 17 in az1 goes down with the zone's next outage (25-30)."""
    hs.Domain(sim, "az1", failures=ZONE_FAILS)
    at(17, lambda: hs.Server(sim, "late", zone="az1"))
    result = sim.run(until=32)
    assert _states(result, "late") == [("up", 17, 25), ("down", 25, 30), ("up", 30, 32)]


def test_membership_and_hierarchy_are_resolved_when_the_run_starts(sim):
    """Parents may be named before they exist; members and children are known after run()."""
    rack = hs.Domain(sim, "r1", parent="eu-1", kind="rack")
    zone = hs.Domain(sim, "eu-1", parent="eu")
    region = hs.Domain(sim, "eu", kind="region")
    a = hs.Node(sim, "a", zone="r1")
    b = hs.Node(sim, "b", zone="eu-1")
    sim.run(until=1)
    assert (rack.members, zone.members, region.members) == ((a,), (b,), ())
    assert (rack.children, zone.children, region.children) == ((), (rack,), (zone,))
    assert rack.ancestors == (zone, region)
    assert (rack.parent, zone.parent, region.parent) == (zone, region, None)


def test_region_of_finds_the_region_of_a_zone_or_rack(sim):
    """``region_of(sim, zone)``: the nearest region at or above; None outside any."""
    hs.Domain(sim, "eu", kind="region")
    hs.Domain(sim, "eu-1", parent="eu")
    hs.Domain(sim, "r1", parent="eu-1", kind="rack")
    hs.Domain(sim, "lonely")
    hs.Node(sim, "n", zone="eu-1")
    assert [hs.region_of(sim, z) for z in ("r1", "eu-1", "eu", "lonely", "nowhere", "n", None)] == [
        "eu",
        "eu",
        "eu",
        None,
        None,
        None,
        None,
    ]


def test_a_domain_prints_its_kind(sim):
    """The repr says which kind of domain it is."""
    assert repr(hs.Domain(sim, "r1", kind="rack")) == "<Domain 'r1', kind='rack'>"


def test_a_domain_is_a_node_with_its_own_streams(sim):
    """Its failures draw from ``(name, "ttf")``: the first outage starts at that stream's first
    value, and a degraded domain does not degrade its members."""
    ttf = hs.Exponential(mean=100)
    zone = hs.Domain(sim, "az1", failures=hs.Failures(ttf=ttf, ttr=1))
    node = hs.Node(sim, "n", zone="az1")
    zone.degrade(2.0)
    result = sim.run(until=1e4)
    assert isinstance(zone, hs.Node) and zone in sim.nodes
    assert _states(result, "n")[1][1] == ttf.sample(sim.rng("az1", "ttf"), 64)[0]
    assert node.slowdown == 1.0


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"kind": "dc"},
            r"^Domain 'd': kind must be one of 'region', 'zone', 'rack', 'group', got 'dc'$",
        ),
        ({"parent": "d"}, r"^Domain 'd': parent must be a domain other than itself, got 'd'$"),
        (
            {"parent": "web"},
            r"^Domain 'd': parent must be a Domain or the name of one, got <Server",
        ),
        ({"parent": 3}, r"^Domain 'd': parent must be a Domain, the name of one, or None, got 3$"),
        (
            {"parent": "r1"},
            r"^Domain 'd': parent must be a domain wider than a zone \(region\), "
            r"got <Domain 'r1', kind='rack'>$",
        ),
        (
            {"kind": "region", "parent": "eu"},
            r"^Domain 'd': parent must be a domain wider than a region \(nothing\), got <Domain",
        ),
        ({"members": "web"}, r"^Domain 'd': members must be a list of Nodes or their names"),
        ({"members": 3}, r"^Domain 'd': members must be a list of Nodes or their names"),
        ({"members": ["web", 3]}, r"^Domain 'd': members must be Nodes or their names .*, got 3$"),
    ],
)
def test_domain_validation(sim, kwargs, message):
    """Bad kinds, parents and members are refused at construction; nothing is registered."""
    hs.Server(sim, "web")
    hs.Domain(sim, "r1", kind="rack")
    hs.Domain(sim, "eu", kind="region")
    with pytest.raises(hs.ConfigError, match=message):
        hs.Domain(sim, "d", **kwargs)
    assert "d" not in sim and all(node.name != "d" for node in sim.nodes)


def test_a_domain_member_must_be_a_node_not_a_domain(sim):
    """Nest domains with ``parent``; a Domain object among members is refused at once."""
    zone = hs.Domain(sim, "az1")
    with pytest.raises(hs.ConfigError, match=r"^Domain 'g': members must be Nodes or their names"):
        hs.Domain(sim, "g", kind="group", members=[zone])
    assert "g" not in sim


def test_members_and_parents_of_another_simulation_are_refused(sim):
    """Everything a domain refers to lives in its own simulation."""
    other = hs.Simulation()
    with pytest.raises(hs.ConfigError, match=r"members must be Nodes of the same Simulation"):
        hs.Domain(sim, "g", kind="group", members=[hs.Node(other, "n")])
    with pytest.raises(hs.ConfigError, match=r"parent must be a Domain of the same Simulation"):
        hs.Domain(sim, "z", parent=hs.Domain(other, "eu", kind="region"))
    assert sim.components == {}


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda sim: hs.Domain(sim, "az1", parent="nowhere"),
            r"^Domain 'az1': parent must be the name of a Domain \(domains: 'az1'\), "
            r"got 'nowhere'$",
        ),
        (
            lambda sim: (hs.Domain(sim, "az1", parent="eu"), hs.Domain(sim, "eu", kind="rack")),
            r"^Domain 'az1': parent must be a domain wider than a zone \(region\), got <Domain",
        ),
        (
            lambda sim: (
                hs.Domain(sim, "g1", kind="group", parent="g2"),
                hs.Domain(sim, "g2", kind="group", parent="g1"),
            ),
            r"^Domain 'g1': parent must be a domain whose parents end without a cycle "
            r"\(here g1 -> g2 -> g1\), got 'g2'$",
        ),
        (
            lambda sim: hs.Domain(sim, "g", kind="group", members=["ghost"]),
            r"^Domain 'g': members must be names of Nodes in the simulation \(no component\), "
            r"got 'ghost'$",
        ),
        (
            lambda sim: (hs.Domain(sim, "az1"), hs.Domain(sim, "g", kind="group", members=["az1"])),
            r"^Domain 'g': members must be Nodes, not domains \(nest those with parent=\), "
            r"got 'az1'$",
        ),
        (
            lambda sim: (
                hs.Client(sim, "users", target=hs.Server(sim, "web")),
                hs.Domain(sim, "g", kind="group", members=["users"]),
            ),
            r"^Domain 'g': members must be names of Nodes in the simulation \(a Client, not a "
            r"Node\), got 'users'$",
        ),
    ],
)
def test_names_are_checked_when_the_run_starts(sim, build, message):
    """Names may refer to components built later, so unknown ones are refused by ``run()``."""
    build(sim)
    with pytest.raises(hs.ConfigError, match=message):
        sim.run(until=1)
