"""A design file (TOML) loaded as a model: ``PARAMS``, ``build(sim, **params)``, ``WORKLOAD``.

``load_design(path)`` reads and checks a file and returns a ``Design``; its
``build`` wires the components in a Simulation exactly as a ready model's
``build`` does, so an ``Experiment`` (and every executor: processes, Dask)
runs a file like a ``.py`` model: the file travels by its path and each
worker loads it again. The format is described in ``docs/design_files.md``.

Errors name the file, the line, the table, the key, the value and what is
allowed, in one line (``DesignError``)::

    design.toml:14: [server.web] workers must be an integer >= 1, got 0
"""

from __future__ import annotations

import copy
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from hasim import units
from hasim.designfile import schema
from hasim.designfile.builder import Builder
from hasim.designfile.expr import ExprError, substitute, suggest
from hasim.designfile.lines import Lines
from hasim.designfile.schema import Bad, DesignError
from hasim.errors import ConfigError

__all__ = ["Design", "DesignError", "load_design", "design_module"]


class Design:
    """A design read from a TOML file: its parameters, components, structure and settings.

    Attributes:
        source: the file's path (or ``"<string>"``).
        name: ``[design] name`` (else the file's stem).
        description: ``[design] description``.
        params: the defaults of ``[params]`` (what ``--set`` and a grid override).
        workload: the default workload: a dict such as ``{"rate": 10, "timeout": 2.0}``,
            a ``FileWorkload`` (retries, a breaker), or None (no traffic / not given).
        has_workload: whether the file has a ``[workload]`` section.
        experiment: the ``[experiment]`` settings as ``hasim.Experiment`` arguments
            (``reps``, ``target``, ``horizon``, ``warmup``, ``seed``, ``grid``; only those given).
    """

    def __init__(self, text: str, source: str = "<string>") -> None:
        self.source = source
        self.text = text
        self._lines = Lines(text)
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            message = str(error)
            match = re.search(r"\(at line (\d+), column (\d+)\)", message)
            line = int(match[1]) if match else None
            if match:
                message = message.replace(match[0], f"(column {match[2]})")
            raise DesignError(source, line, f"TOML syntax error: {message}") from None
        self.data = data
        for section in data:
            if section not in schema.SECTIONS:
                self.fail(
                    (),
                    (section,),
                    f"unknown section [{section}]{suggest(section, schema.SECTIONS)}"
                    f"; known: {', '.join(schema.SECTIONS)}",
                )
        design = self._table(data, "design")
        for key in design:
            if key not in schema.DESIGN_KEYS:
                self.unknown(("design",), key, schema.DESIGN_KEYS)
        for key in ("name", "description", "entry", "up"):
            if key in design and not isinstance(design[key], str):
                self.fail(
                    ("design",), (key,), f"[design] {key} must be a string, got {design[key]!r}"
                )
        self.name = design.get("name") or Path(source).stem
        self.description = design.get("description", "")
        self.settings = design
        self.params = self._read_params(self._table(data, "params"))
        self.templates = self._table(data, "failures")
        for name, body in self.templates.items():
            if not isinstance(body, dict):
                self.fail(
                    ("failures",),
                    (name,),
                    f"[failures] {name} must be a table ([failures.{name}]), got {body!r}",
                )
        self.tables = self._read_tables(data)
        self.faults, self.fault_lines = self._read_faults(data)
        self.defaults = self.resolve({})
        self.has_workload = "workload" in data
        self.grid_tokens: dict[str, dict[str, str]] = {}
        self._workload_table = self._table(data, "workload")
        self.workload = self._read_workload(self._workload_table)
        self.experiment = self._read_experiment(self._table(data, "experiment"))
        self.check()

    # -- reading --------------------------------------------------------------------------------

    def _table(self, data: Mapping[str, Any], name: str) -> dict[str, Any]:
        value = data.get(name, {})
        if not isinstance(value, dict):
            self.fail((), (name,), f"{name} must be a table ([{name}]), got {value!r}")
        return value

    def _read_params(self, table: dict[str, Any]) -> dict[str, Any]:
        for name in table:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or name == "i":
                self.fail(
                    ("params",),
                    (name,),
                    f"[params] {name!r} must be a name (letters, digits, _; not 'i')",
                )
            value = table[name]
            if isinstance(value, (dict, list)):
                self.fail(
                    ("params",),
                    (name,),
                    f"[params] {name} must be a number, a string or a boolean, got {value!r}",
                )
        self.param_docs = {name: self._lines.comment(("params",), name) for name in table}
        return dict(table)

    def _read_tables(self, data: Mapping[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
        found = []
        for kind in schema.COMPONENT_TABLES:
            for name, body in self._table(data, kind).items():
                if not isinstance(body, dict):
                    self.fail(
                        (kind,),
                        (name,),
                        f"[{kind}] {name} must be a table ([{kind}.{name}]), got {body!r}",
                    )
                found.append((kind, name, body))
        if "network" in data:
            found.append(("network", "", self._table(data, "network")))
        seen: dict[str, tuple[str, str]] = {}
        for kind, name, _ in found:
            if kind != "network" and name in seen:
                other = seen[name]
                self.fail(
                    (kind, name),
                    (),
                    f"[{kind}.{name}] duplicate name: [{other[0]}.{other[1]}] has it too",
                )
            seen[name] = (kind, name)

        def where(item: tuple[str, str, dict]) -> float:
            kind, name, _ = item
            line = self._lines.table(kind, name) if name else self._lines.table(kind)
            return float("inf") if line is None else line

        # the file's order is the order of creation (and so of the random streams' first use)
        return sorted(found, key=where)

    def _read_faults(self, data: Mapping[str, Any]) -> tuple[list[dict], list[int | None]]:
        """The ``[[fault]]`` tables (a chaos schedule) and the line of each header."""
        from hasim.chaos.toml import _header_lines

        tables = data.get("fault", [])
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            self.fail((), ("fault",), "fault must be [[fault]] tables (a chaos schedule)")
        return tables, _header_lines(self.text, len(tables))

    # -- parameters -----------------------------------------------------------------------------

    def resolve(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The parameters: ``[params]`` overridden by ``given``, ``${...}`` computed.

        Raises:
            DesignError: an unknown name in ``given``, a bad expression, a cycle.
        """
        unknown = sorted(set(given) - set(self.params))
        if unknown:
            hint = suggest(unknown[0], self.params)
            self.fail(
                ("params",),
                (),
                f"[params] unknown parameter(s) {unknown}{hint}; known: "
                f"{', '.join(self.params) or 'none'}",
            )
        raw = {**self.params, **given}
        done: dict[str, Any] = {}

        def get(name: str, stack: tuple[str, ...]) -> Any:
            if name in done:
                return done[name]
            if name not in raw:
                raise ExprError(f"unknown parameter {name!r}{suggest(name, raw)}")
            if name in stack:
                raise ExprError(
                    f"parameters refer to each other in a cycle: {' -> '.join((*stack, name))}"
                )
            value = substitute(raw[name], lambda n: get(n, (*stack, name)))
            done[name] = _normal(value)
            return done[name]

        for name in raw:
            try:
                get(name, ())
            except ExprError as error:
                self.fail(("params",), (name,), f"[params] {name}: {error}")
        return done

    # -- workload and experiment ----------------------------------------------------------------

    def convert(
        self,
        where: str,
        path: tuple[str, ...],
        spec: Mapping[str, schema.Key],
        body: Mapping[str, Any],
        scope: Any,
    ) -> dict[str, Any]:
        """Each key of ``body`` substituted and converted by ``spec``; errors name the key."""
        out = {}
        for key, raw in body.items():
            if key not in spec:
                self.unknown(path, key, spec, where)
            out[key] = self.value(where, path, key, raw, spec[key].convert, scope)
        for key, item in spec.items():
            if item.required and key not in body:
                allowed = ", ".join(k for k, v in spec.items() if v.required)
                self.fail(path, (), f"{where} missing required key {key!r} (required: {allowed})")
        return out

    def convert_table(
        self,
        where: str,
        path: tuple[str, ...],
        key: str,
        spec: Mapping[str, schema.Key],
        table: Mapping[str, Any],
        scope: Any,
    ) -> dict[str, Any]:
        """``convert`` for a table nested under ``key`` (``health_check``, ``retry.budget``).

        Errors name ``key.field``; the result is keyed by the fields' own names.
        """
        prefix = f"{key}." if key else ""
        values = self.convert(
            where,
            path,
            {prefix + k: v for k, v in spec.items()},
            {prefix + k: v for k, v in table.items()},
            scope,
        )
        return {k[len(prefix) :]: v for k, v in values.items()}

    def preset_name(
        self, path: tuple[str, ...], where: str, key: str, preset: Any, cls: type
    ) -> Any:
        """``preset`` if ``cls.presets()`` knows it; a DesignError naming ``key`` otherwise."""
        known = cls.presets()
        if preset not in known:
            self.fail(
                path,
                tuple(key.split(".")[:1]),
                f"{where} {key} must be one of {', '.join(known)}{suggest(str(preset), known)}, "
                f"got {preset!r}",
            )
        return preset

    def value(
        self,
        where: str,
        path: tuple[str, ...],
        key: str,
        raw: Any,
        convert: Callable[[Any], Any],
        scope: Any,
    ) -> Any:
        """``raw`` with ``${...}`` substituted, converted; a DesignError names ``key``."""
        try:
            value = substitute(raw, scope)
        except ExprError as error:
            self.fail(path, tuple(key.split(".")), f"{where} {key}: {error}")
        try:
            return convert(value)
        except Bad as bad:
            shown = f"{key}.{bad.note}" if bad.note and bad.note != key else key
            got = bad.value if bad.value is not None or bad.note else value
            self.fail(
                path, tuple(shown.split(".")), f"{where} {shown} must be {bad.allowed}, got {got!r}"
            )

    def scope(self, params: Mapping[str, Any], **extra: Any) -> Callable[[str], Any]:
        """A lookup of parameter names (and ``extra`` names such as ``i``) for ``${...}``."""
        names = {**params, **extra}

        def lookup(name: str) -> Any:
            if name not in names:
                raise ExprError(
                    f"unknown parameter {name!r} in ${{...}}{suggest(name, names)}; "
                    f"known: {', '.join(names) or 'none'}"
                )
            return names[name]

        return lookup

    def workload_for(self, given: Mapping[str, Any]) -> Any:
        """The workload with the parameters ``given`` (``[workload]`` may use ``${...}``).

        ``workload`` is the one with the defaults; names ``given`` that the design does
        not have are ignored (a comparison's ``--set`` may name another design's).
        """
        known = {name: value for name, value in given.items() if name in self.params}
        if not known or not self._workload_table:
            return self.workload
        other = copy.copy(self)
        other.defaults = self.resolve(known)
        return other._read_workload(self._workload_table)

    def _read_workload(self, table: dict[str, Any]) -> Any:
        from hasim.designfile.workload import read_workload

        if not table:
            return None
        return read_workload(self, table)

    def _read_experiment(self, table: dict[str, Any]) -> dict[str, Any]:
        from hasim.experiment.design import METRICS
        from hasim.experiment.runner import Target

        where, path = "[experiment]", ("experiment",)
        out = self.convert(where, path, schema.EXPERIMENT, table, self.scope(self.defaults))
        if "target" in out:
            target = out["target"]
            try:
                if isinstance(target, str):
                    target = Target.parse(target)
                elif isinstance(target, dict):
                    keys = {"min": "min_reps", "max": "max_reps"}
                    target = Target(**{keys.get(k, k): v for k, v in target.items()})
                else:
                    raise ConfigError(f"got {target!r}")
            except (ConfigError, TypeError) as error:
                self.fail(
                    path,
                    ("target",),
                    f"{where} target must be 'METRIC:rel=R,max=N' or "
                    f"{{ metric = ..., rel = ... }} ({error})",
                )
            if target.metric not in METRICS:
                self.fail(
                    path,
                    ("target",),
                    f"{where} target metric must be one of "
                    f"{', '.join(METRICS)}{suggest(target.metric, METRICS)}, "
                    f"got {target.metric!r}",
                )
            out["target"] = target
        if "grid" in out:
            grid = out["grid"]
            if not isinstance(grid, dict) or not grid:
                self.fail(
                    path,
                    ("grid",),
                    f"{where} grid must be a table {{ NAME = [values] }}, got {grid!r}",
                )
            for name, values in grid.items():
                if name not in self.params:
                    self.fail(
                        path,
                        ("grid",),
                        f"{where} grid: {name!r} is not a parameter of "
                        f"[params]{suggest(name, self.params)}",
                    )
                if not isinstance(values, list) or not values:
                    self.fail(
                        path,
                        ("grid",),
                        f"{where} grid.{name} must be a non-empty list of values, got {values!r}",
                    )
            out["grid"] = {name: [_normal(v) for v in values] for name, values in grid.items()}
            #: how each grid value reads in tables: as the file wrote it ("20m", not 1200.0)
            self.grid_tokens = {
                name: {repr(_normal(v)): str(v) for v in values} for name, values in grid.items()
            }
        if "reps" in out and "target" in out:
            self.fail(path, ("target",), f"{where} give reps or target, not both")
        return out

    # -- building -------------------------------------------------------------------------------

    def build(self, sim: Any, **params: Any) -> Any:
        """Build the design in ``sim``; return its entry service (as a model's build does).

        Args:
            sim: the Simulation to build in.
            **params: overrides of ``params`` (unknown names are an error).
        """
        return Builder(self, sim, self.resolve(params)).build().entry

    def inventory(self, **params: Any) -> Builder:
        """The design built in a throwaway Simulation: its components, groups and arrows."""
        from hasim.sim import Simulation

        return Builder(self, Simulation(seed=0), self.resolve(params)).build()

    def check(self) -> Builder:
        """Build once with the defaults: every semantic error surfaces here, with its line."""
        built = self.inventory()
        closed = self.workload is not None and (
            self.workload.get("users") if isinstance(self.workload, dict) else self.workload.users
        )
        if closed:
            from hasim.replication import ReplicatedService

            stores = [n for _, n, c in built.components if isinstance(c, ReplicatedService)]
            if stores:
                self.fail(
                    ("workload",),
                    ("users",),
                    f"[workload] a closed loop cannot drive the "
                    f"store {stores[0]!r}: its requests must be reads and writes, which an "
                    "open loop (rate = ...) sends",
                )
        if getattr(self.workload, "throttle", None) is not None:
            from hasim.replication import ReplicatedService

            stores = [n for _, n, c in built.components if isinstance(c, ReplicatedService)]
            if stores:
                self.fail(
                    ("workload",),
                    ("throttle",),
                    f"[workload] throttle cannot apply to the store {stores[0]!r}: its "
                    "clients (a hasim.KVWorkload of reads and writes) take no throttle",
                )
        target = getattr(self.workload, "target", None)
        if target is not None and target not in built.by_name:
            known = list(built.by_name)
            self.fail(
                ("workload",),
                ("target",),
                f"[workload] target refers to an unknown "
                f"component {target!r}{suggest(target, known)}",
            )
        return built

    def summary(self) -> str:
        """One line: the design's components by kind, its structure, workload and settings."""
        built = self.check()
        kinds: dict[str, int] = {}
        for kind, _name, _obj in built.components:
            label = {"app_server": "app server", "crew": "repair crew"}.get(kind, kind)
            kinds[label] = kinds.get(label, 0) + 1
        parts = ", ".join(
            f"{n} {k}{'s' if n > 1 and not k.endswith('s') else ''}" for k, n in kinds.items()
        )
        up = built.up_text or "every node (no up expression)"
        load = "no workload section"
        if self.has_workload:
            load = "no traffic" if self.workload is None else _describe_workload(self.workload)
        count = len(built.components)
        chaos = ""
        if built.chaos is not None:
            n = len(built.chaos.actions)
            chaos = f"; chaos schedule of {n} fault{'s' * (n != 1)}"
        return (
            f"{self.source}: ok: design {self.name!r}, {count} component{'s' * (count != 1)} "
            f"({parts}); up = {up}; entry {built.entry_name}; {load}{chaos}; "
            f"{len(self.params)} params"
        )

    def experiment_args(self) -> dict[str, Any]:
        """``[experiment]`` and ``[workload]`` as keyword arguments of ``hasim.Experiment``."""
        args = dict(self.experiment)
        args["workload"] = self.workload
        return args

    def module(self) -> ModuleType:
        """The design as a model module: ``build``, ``PARAMS``, ``WORKLOAD``, ``__doc__``."""
        module = ModuleType("hasim_design_" + re.sub(r"\W", "_", self.name))
        module.__file__ = self.source
        module.__doc__ = self.doc()
        module.build = self.build  # type: ignore[attr-defined]
        module.PARAMS = dict(self.params)  # type: ignore[attr-defined]
        module.DESIGN = self  # type: ignore[attr-defined]
        module.EXPERIMENT = dict(self.experiment)  # type: ignore[attr-defined]
        if self.has_workload:
            module.WORKLOAD = self.workload  # type: ignore[attr-defined]
        return module

    def doc(self) -> str:
        """A model docstring: the description, then a bullet per parameter (its comment)."""
        lines = [self.description or f"The design in {Path(self.source).name}.", ""]
        if self.params:
            lines.append("Parameters:")
            lines.append("")
            for name in self.params:
                lines.append(f"- ``{name}``: {self.param_docs.get(name, '')}".rstrip())
        return "\n".join(lines) + "\n"

    # -- errors ---------------------------------------------------------------------------------

    def fail(self, path: tuple[str, ...], keys: tuple[str, ...], reason: str) -> Any:
        """Raise a DesignError at the line of ``keys`` in the table ``path``."""
        line = self._lines.key(path, keys) if keys else (self._lines.table(*path) if path else None)
        raise DesignError(self.source, line, reason)

    def unknown(self, path: tuple[str, ...], key: str, known: Any, where: str = "") -> Any:
        """Raise the error for an unknown key, with a suggestion."""
        where = where or "[" + ".".join(path) + "]"
        self.fail(
            path,
            tuple(key.split(".")),
            f"{where} unknown key {key!r}{suggest(key, known)}; known: {', '.join(known)}",
        )


def _normal(value: Any) -> Any:
    """A parameter value: ``"none"`` -> None, a duration string -> seconds, else as is."""
    if isinstance(value, str):
        if value.strip().lower() == "none":
            return None
        if value.strip()[:1].isdigit() or value.strip()[:1] == ".":
            try:
                return units.parse(value)
            except ConfigError:
                return value
    return value


def _describe_workload(workload: Any) -> str:
    get = workload.get if isinstance(workload, dict) else lambda k: getattr(workload, k, None)
    if get("users") is not None:
        return f"closed loop of {get('users')} users"
    text = f"open loop {get('rate'):g}/s"
    if get("timeout") is not None:
        text += f", timeout {units.format_duration(get('timeout'))}"
    if get("retry") is not None:
        budget = getattr(get("retry"), "budget", None)
        text += ", retries" + ("" if budget is None else f" (a {budget.kind} budget)")
    if get("hedge") is not None:
        text += f", hedge after {units.format_duration(get('hedge').after)}"
    if get("throttle") is not None:
        text += f", adaptive throttle k={get('throttle').k:g}"
    return text


def load_design(path: str | Path) -> Design:
    """Read and check a design file; return the ``Design``.

    Args:
        path: a ``.toml`` design file.

    Raises:
        DesignError: the file cannot be read, is not TOML, or describes no valid design
            (one line: file, line, table, key, value, what is allowed).
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DesignError(source, None, f"cannot read the design file: {error}") from None
    return Design(text, source)


_MODULES: dict[str, tuple[float, ModuleType]] = {}


def design_module(path: str | Path) -> ModuleType:
    """The design file at ``path`` as a model module (cached while the file is unchanged)."""
    source = str(path)
    stamp = Path(source).stat().st_mtime
    cached = _MODULES.get(source)
    if cached is None or cached[0] != stamp:
        cached = (stamp, load_design(source).module())
        _MODULES[source] = cached
    return cached[1]
