"""Wiring a design file's tables into components of a Simulation, in the file's order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hasim.designfile import schema
from hasim.designfile.expr import ExprError, parse_structure, substitute, suggest
from hasim.designfile.schema import DesignError, Key
from hasim.designfile.serving import replicas as _replicas
from hasim.designfile.serving import serving as _serving
from hasim.errors import ConfigError

if TYPE_CHECKING:
    from hasim.designfile.loader import Design

__all__ = ["Builder", "FAULTS"]

#: The name of the chaos schedule a design file's ``[[fault]]`` tables make.
FAULTS = "faults"


class Builder:
    """Builds one design in one Simulation and remembers what it built (for ``draw``).

    Attributes:
        components: ``(kind, name, component)`` in the order of creation.
        groups: a counted table's name -> the names it stamped out (``web`` -> web0..).
        arrows: ``(from, to, style)``: who sends to whom ("request", "standby", "replica",
            "link", "parent").
        structure: the up expression as built (a Structure or predicate), or None.
        entry: the entry service.
    """

    def __init__(self, design: Design, sim: Any, params: dict[str, Any]) -> None:
        self.design = design
        self.sim = sim
        self.params = params
        self.components: list[tuple[str, str, Any]] = []
        self.by_name: dict[str, Any] = {}
        self.kinds: dict[str, str] = {}
        self.groups: dict[str, list[str]] = {}
        self.arrows: list[tuple[str, str, str]] = []
        self.structure: Any = None
        #: the up expression as written, with its ${...} computed
        self.up_text = ""
        self.entry: Any = None
        self.entry_name = ""
        self.network: dict[str, Any] = {}
        #: the chaos schedule of the ``[[fault]]`` tables (a ``hasim.Chaos``), or None
        self.chaos: Any = None
        #: a balancer's name -> the preset of its health check (its own or the balancer's)
        self.check_presets: dict[str, str] = {}
        #: a balancer's name -> its ``preset``
        self.presets: dict[str, str] = {}

    # -- the whole design -----------------------------------------------------------------------

    def build(self) -> Builder:
        """Create every component, then declare the structure; return self."""
        for kind, name, body in self.design.tables:
            if kind == "network":
                self._network(body)
                continue
            count = body.get("count")
            where = f"[{kind}.{name}]"
            if count is None:
                self._one(kind, name, name, body, self.design.scope(self.params))
                continue
            n = self.design.value(
                where,
                (kind, name),
                "count",
                count,
                schema.integer(1),
                self.design.scope(self.params),
            )
            stamped = []
            for i in range(n):
                scope = self.design.scope(self.params, i=i)
                label = f"{name}{i}"
                if "name" in body:
                    label = self.design.value(
                        where, (kind, name), "name", body["name"], schema.text, scope
                    )
                self._one(kind, name, label, body, scope, index=i)
                stamped.append(label)
            self.groups[name] = stamped
        self._entry()
        self._structure()
        self._faults()
        return self

    def _entry(self) -> None:
        settings = self.design.settings
        services = ("server", "app_server", "balancer", "failover", "store", "node")
        if "entry" in settings:
            name = settings["entry"]
            target = self.single(("design",), "[design]", "entry", name)
        else:
            candidates = [(k, n, c) for k, n, c in self.components if k in services]
            if not candidates:
                self.design.fail(
                    ("design",),
                    (),
                    "[design] the design has no service to send "
                    "requests to (a server, balancer, failover pair or store)",
                )
            _, name, target = candidates[-1]
        self.entry, self.entry_name = target, name

    def _structure(self) -> None:
        settings = self.design.settings
        path, where = ("design",), "[design]"
        if "reward" in settings:
            reward = self.design.value(
                where,
                path,
                "reward",
                settings["reward"],
                schema.texts,
                self.design.scope(self.params),
            )
            from hasim.structure import share_up

            leaves = [c for name in reward for c in self.many(path, where, "reward", name)]
            reward = share_up(leaves)
        else:
            reward = None
        if "up" not in settings:
            if reward is not None:
                self.design.fail(path, ("reward",), f"{where} reward needs an up expression")
            return
        text = self.design.value(
            where, path, "up", settings["up"], schema.text, self.design.scope(self.params)
        )

        def resolve(name: str) -> Any:
            if name in self.by_name:
                return self.by_name[name]
            if name in self.groups:
                return [self.by_name[n] for n in self.groups[name]]
            known = [*self.by_name, *self.groups]
            raise ExprError(
                f"{name!r} is no component or group of the design{suggest(name, known)}"
            )

        try:
            up = parse_structure(text, resolve, _serving, _replicas)
        except (ExprError, ConfigError) as error:
            self.design.fail(path, ("up",), f"{where} up: {error}")
        if isinstance(up, list):  # pragma: no cover - parse_structure refuses groups
            raise AssertionError(up)
        self.sim.up_when(up, reward=reward)
        self.structure = up
        self.up_text = " ".join(text.split())

    def _faults(self) -> None:
        """The ``[[fault]]`` tables: a chaos schedule (``hasim.Chaos`` named ``faults``)."""
        from hasim.chaos import Chaos, ScheduleError
        from hasim.chaos.toml import _action, _Schedule

        tables = self.design.faults
        if not tables:
            return
        scope = self.design.scope(self.params)
        lines = self.design.fault_lines
        actions = []
        for index, table in enumerate(tables):
            where = f"[[fault]] #{index + 1}"
            try:
                body = {k: substitute(v, scope) for k, v in table.items()}
            except ExprError as error:
                raise DesignError(self.design.source, lines[index], f"{where}: {error}") from None
            try:
                actions.append(_action(body))
            except (ConfigError, TypeError) as error:
                raise DesignError(self.design.source, lines[index], f"{where}: {error}") from None
        schedule = _Schedule(tuple(actions), self.design.source, tuple(lines), None)
        try:
            chaos = Chaos(self.sim, schedule, FAULTS)
        except ScheduleError as error:
            raise DesignError(error.source, error.line, f"[[fault]] {error.reason}") from None
        except ConfigError as error:
            raise DesignError(self.design.source, lines[0], f"[[fault]] {error}") from None
        self.chaos = chaos

    # -- one component --------------------------------------------------------------------------

    def _one(
        self, kind: str, table: str, name: str, body: dict, scope: Any, index: int = 0
    ) -> None:
        design = self.design
        path, where = (kind, table), f"[{kind}.{table}]"
        if kind == "store":
            store_kind = body.get("kind")
            if store_kind not in schema.STORE_KINDS:
                allowed = ", ".join(schema.STORE_KINDS)
                hint = (
                    suggest(store_kind, schema.STORE_KINDS) if isinstance(store_kind, str) else ""
                )
                if store_kind is None:
                    design.fail(path, (), f"{where} missing required key 'kind' (one of {allowed})")
                design.fail(
                    path,
                    ("kind",),
                    f"{where} kind must be one of {allowed}{hint}, got {store_kind!r}",
                )
            spec = {**schema.KINDS[store_kind], "kind": Key(lambda v: v, arg="")}
        elif kind in schema.DOMAIN_TABLES:
            spec = schema.KINDS["domain"]
        else:
            spec = schema.KINDS[kind]
        spec = {**spec, **schema.COMMON}
        if kind in ("link", "crew") or kind in schema.DOMAIN_TABLES:
            spec.pop("zone", None)
        if kind == "crew":
            spec.pop("failures", None)
        values = design.convert(where, path, spec, body, scope)
        args = {spec[k].arg or k: v for k, v in values.items() if spec[k].arg != ""}
        if isinstance(args.get("zone"), list) and kind not in ("store",):
            args["zone"] = args["zone"][index % len(args["zone"])]
        if "failures" in body:
            args["failures"] = self._failures(path, where, values["failures"], scope)
        try:
            component = self._make(kind, path, where, name, values, args, scope)
        except DesignError:
            raise
        except ConfigError as error:
            key = _key_of(str(error), body)
            design.fail(path, (key,) if key else (), f"{where} {error}")
        self.components.append((kind, name, component))
        self.by_name[name] = component
        self.kinds[name] = kind if kind != "store" else f"store:{body['kind']}"

    def _make(
        self, kind: str, path: tuple, where: str, name: str, values: dict, args: dict, scope: Any
    ) -> Any:
        import hasim as hs

        sim = self.sim
        if kind == "node":
            return hs.Node(sim, name, **args)
        if kind == "server":
            return hs.Server(sim, name, **args)
        if kind == "app_server":
            backend = self.single(path, where, "backend", values["backend"])
            self.arrows.append((name, values["backend"], "request"))
            return hs.AppServer(sim, name, backend=backend, **args)
        if kind == "balancer":
            backends = [
                c for ref in values["backends"] for c in self.many(path, where, "backends", ref)
            ]
            if "policy" in values:
                args["policy"] = self._policy(path, where, values["policy"], scope)
            if "health_check" in values:
                args["health_check"] = self._health_check(
                    path, where, values["health_check"], scope
                )
            if "outlier_detection" in values:
                args["outlier_detection"] = self._outlier_detection(
                    path, where, values["outlier_detection"], scope
                )
            check = values.get("health_check")
            if isinstance(check, dict) and isinstance(check.get("preset"), str):
                self.check_presets[name] = check["preset"]
            if "preset" in values:
                preset = self.design.preset_name(
                    path, where, "preset", values["preset"], hs.LoadBalancer
                )
                lb = hs.LoadBalancer.preset(preset, sim, name, backends=backends, **args)
                self.presets[name] = preset
                if "health_check" not in values:
                    self.check_presets[name] = preset
            else:
                lb = hs.LoadBalancer(sim, name, backends=backends, **args)
            for backend in backends:
                self.arrows.append((name, backend.name, "request"))
            if "home_zone" in values:
                self._home_zone(path, where, lb, backends, values["home_zone"])
            return lb
        if kind == "failover":
            primary = self.single(path, where, "primary", values["primary"])
            standby = self.single(path, where, "standby", values["standby"])
            self.arrows += [(name, primary.name, "request"), (name, standby.name, "standby")]
            return hs.ActivePassive(sim, name, primary=primary, standby=standby, **args)
        if kind == "store":
            if "wars" in values:
                args["wars"] = self._wars(path, where, values["wars"], scope)
            return self._store(values["kind"], name, args)
        if kind in schema.DOMAIN_TABLES:
            for ref in args.get("members", []):
                self.single(path, where, "members", ref)
            if "parent" in args:
                self.arrows.append((name, args["parent"], "parent"))
            return hs.Domain(sim, name, kind=schema.DOMAIN_TABLES[kind], **args)
        if kind == "link":
            for end in ("a", "b"):
                self.single(path, where, end, values[end])
            self.arrows.append((values["a"], values["b"], "link"))
            return hs.Link(sim, name=name, **args)
        if kind == "crew":
            return hs.RepairCrews(sim, name, **args)
        raise AssertionError(kind)  # pragma: no cover

    def _store(self, kind: str, name: str, args: dict) -> Any:
        import hasim as hs

        cls = {
            "primary_backup": hs.PrimaryBackup,
            "quorum": hs.QuorumStore,
            "raft": hs.RaftKV,
            "single_copy": hs.SingleCopy,
        }[kind]
        store = cls(self.sim, name, **args)
        for replica in _replicas(store) if kind != "single_copy" else []:
            self.arrows.append((name, replica.name, "replica"))
        return store

    def _network(self, body: dict) -> None:
        import hasim as hs

        scope = self.design.scope(self.params)
        values = self.design.convert("[network]", ("network",), schema.NETWORK, body, scope)
        self.network = values
        try:
            hs.Network(self.sim, **values)
        except ConfigError as error:
            self.design.fail(("network",), (), f"[network] {error}")

    # -- pieces ---------------------------------------------------------------------------------

    def single(self, path: tuple, where: str, key: str, ref: str) -> Any:
        """The component named ``ref`` (defined above); a DesignError otherwise."""
        if ref in self.by_name:
            return self.by_name[ref]
        if ref in self.groups:
            self.design.fail(
                path,
                (key,),
                f"{where} {key} must name one component, got the group "
                f"{ref!r} ({', '.join(self.groups[ref])})",
            )
        self._missing(path, where, key, ref)

    def many(self, path: tuple, where: str, key: str, ref: str) -> list[Any]:
        """The component named ``ref``, or the members of the group ``ref``."""
        if ref in self.groups:
            return [self.by_name[n] for n in self.groups[ref]]
        return [self.single(path, where, key, ref)]

    def _missing(self, path: tuple, where: str, key: str, ref: str) -> Any:
        later = [name for kind, name, _ in self.design.tables if name == ref]
        if later:
            self.design.fail(
                path,
                (key,),
                f"{where} {key} refers to {ref!r}, which is defined "
                "further down: define components before those that use them",
            )
        known = [*self.by_name, *self.groups]
        self.design.fail(
            path,
            (key,),
            f"{where} {key} refers to an unknown component {ref!r}"
            f"{suggest(ref, known)}; defined above: {', '.join(known) or 'none'}",
        )

    def _failures(self, path: tuple, where: str, value: Any, scope: Any) -> Any:
        items = value if isinstance(value, list) else [value]
        models = [self._failure(path, where, item, scope) for item in items]
        return models if isinstance(value, list) else models[0]

    def _failure(self, path: tuple, where: str, item: Any, scope: Any) -> Any:
        import hasim as hs

        design = self.design
        templates = design.templates
        if isinstance(item, str):
            if item not in templates:
                known = ", ".join(templates) or "none"
                design.fail(
                    path,
                    ("failures",),
                    f"{where} failures refers to an unknown failure "
                    f"model {item!r}{suggest(item, templates)}; [failures.*] has: {known}",
                )
            path, where, table = ("failures", item), f"[failures.{item}]", templates[item]
            keys: tuple[str, ...] = ()
        elif isinstance(item, dict):
            table, keys = item, ("failures",)
        else:
            design.fail(
                path,
                ("failures",),
                f"{where} failures must be the name of a "
                f"[failures.NAME] table, a table or a list of them, got {item!r}",
            )
        kind = table.get("kind", "crash")
        if kind not in schema.FAILURE_KINDS:
            design.fail(
                path,
                (*keys, "kind"),
                f"{where} failures kind must be one of "
                f"{', '.join(schema.FAILURE_KINDS)}{suggest(str(kind), schema.FAILURE_KINDS)}, "
                f"got {kind!r}",
            )
        spec = {**schema.FAILURE_KINDS[kind], "kind": Key(lambda v: v, arg="")}
        prefix = ".".join(keys)
        values = design.convert_table(where, path, prefix, spec, table, scope)
        values.pop("kind", None)
        if "crews" in values:
            crew = self.single(path, where, f"{prefix}.crews".lstrip("."), values["crews"])
            if not isinstance(crew, hs.RepairCrews):
                design.fail(
                    path,
                    (*keys, "crews"),
                    f"{where} crews must name a [crew.NAME], got {values['crews']!r}",
                )
            values["crews"] = crew
        cls = {
            "crash": hs.Failures,
            "slowdowns": hs.Slowdowns,
            "error_bursts": hs.ErrorBursts,
            "stalls": hs.Stalls,
            "flapping": hs.Flapping,
        }[kind]
        try:
            return cls(**values)
        except (ConfigError, TypeError) as error:
            design.fail(path, keys, f"{where} failures: {error}")

    def _policy(self, path: tuple, where: str, value: Any, scope: Any) -> Any:
        import hasim as hs

        classes = {
            "round_robin": hs.RoundRobin,
            "least_outstanding": hs.LeastOutstanding,
            "power_of_two": hs.PowerOfTwo,
            "random": hs.Random,
            "weighted_round_robin": hs.WeightedRoundRobin,
            "consistent_hash": hs.ConsistentHash,
        }
        table = {"kind": value} if isinstance(value, str) else value
        kind = table.get("kind") if isinstance(table, dict) else None
        if kind not in classes:
            hint = suggest(kind, classes) if isinstance(kind, str) else ""
            self.design.fail(
                path,
                ("policy",),
                f"{where} policy must be one of "
                f"{', '.join(classes)}{hint}, got {kind if kind else value!r}",
            )
        options = {k: v for k, v in table.items() if k != "kind"}
        try:
            return classes[kind](**options)
        except (ConfigError, TypeError) as error:
            self.design.fail(path, ("policy",), f"{where} policy: {error}")

    def _health_check(self, path: tuple, where: str, value: Any, scope: Any) -> Any:
        import hasim as hs

        if not isinstance(value, dict):
            self.design.fail(
                path,
                ("health_check",),
                f"{where} health_check must be a table "
                f'such as {{ interval = "5s", timeout = "1s" }}, got {value!r}',
            )
        values = self.design.convert_table(
            where, path, "health_check", schema.HEALTH_CHECK, value, scope
        )
        preset = values.pop("preset", None)
        if preset is not None:
            key = "health_check.preset"
            preset = self.design.preset_name(path, where, key, preset, hs.HealthCheck)
        try:
            if preset is None:
                return hs.HealthCheck(**values)
            return hs.HealthCheck.preset(preset, **values)
        except (ConfigError, TypeError) as error:
            self.design.fail(path, ("health_check",), f"{where} health_check: {error}")

    def _outlier_detection(self, path: tuple, where: str, value: Any, scope: Any) -> Any:
        import hasim as hs

        if not isinstance(value, dict):
            self.design.fail(
                path,
                ("outlier_detection",),
                f"{where} outlier_detection must be a table such as "
                f'{{ preset = "envoy" }} or {{ consecutive_errors = 5 }}, got {value!r}',
            )
        values = self.design.convert_table(
            where, path, "outlier_detection", schema.OUTLIER_DETECTION, value, scope
        )
        preset = values.pop("preset", None)
        if preset is not None:
            key = "outlier_detection.preset"
            preset = self.design.preset_name(path, where, key, preset, hs.OutlierDetection)
        try:
            if preset is None:
                return hs.OutlierDetection(**values)
            return hs.OutlierDetection.preset(preset, **values)
        except ConfigError as error:
            self.design.fail(path, ("outlier_detection",), f"{where} outlier_detection: {error}")

    def _wars(self, path: tuple, where: str, value: Any, scope: Any) -> Any:
        import hasim as hs

        if not isinstance(value, dict):
            self.design.fail(
                path,
                ("wars",),
                f"{where} wars must be a table such as "
                f'{{ write = "2ms", ack = "1ms" }}, got {value!r}',
            )
        values = self.design.convert_table(where, path, "wars", schema.WARS, value, scope)
        try:
            return hs.WARS(**values)
        except ConfigError as error:
            self.design.fail(path, ("wars",), f"{where} wars: {error}")

    def _home_zone(self, path: tuple, where: str, lb: Any, backends: list, zone: str) -> None:
        same, cross = self.network.get("same_zone"), self.network.get("cross_zone")
        if same is None or cross is None:
            self.design.fail(
                path,
                ("home_zone",),
                f"{where} home_zone needs [network] same_zone and cross_zone latencies",
            )
        for backend in backends:
            self.sim.network.set_latency(
                lb.name, backend.name, same if backend.zone == zone else cross
            )


# -- helpers --------------------------------------------------------------------------------------


def _key_of(message: str, body: dict) -> str | None:
    """The key a constructor's message ``"Owner 'x': key must be ..."`` names, if in ``body``."""
    for key in body:
        if f": {key} must" in message or f": {key} " in message:
            return key
    return None
