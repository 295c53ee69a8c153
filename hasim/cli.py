"""The ``hasim`` command: run, compare and sweep designs; list the ready models.

::

    hasim run single_server --horizon 7d --reps 10 --set mttf=2d
    hasim compare single_server my_design.py --rate 50 --timeout 2s
    hasim sweep single_server --grid mttr=10m,30m,1h --target unavailability:rel=0.1
    hasim run single_server --chaos outage.toml --faults-out faults.toml
    hasim run models/lb_cluster.toml --reps 2 --horizon 1h
    hasim check my_design.toml            # validate a design file without running it
    hasim draw my_design.toml -o design.png
    hasim models
    hasim validate                        # the simulator against theory (quick)
    hasim validate --full --markdown > VALIDATION.md

A MODEL is the name of a ready model (``hasim models`` lists them), a path to a
model file (``PARAMS`` and ``build(sim, **params)``) or a design file (``.toml``,
see ``docs/design_files.md``), whose ``[experiment]`` section gives the defaults of
``--reps``/``--target``, ``--horizon``, ``--warmup``, ``--seed`` and ``--grid``, and
whose ``[workload]`` the default workload; the command line overrides both. Results
go to stdout as a table, or with ``--json`` as one JSON object per design point;
``--csv FILE`` writes one row per run and ``--out DIR`` keeps every finished run on
disk so an interrupted command resumes where it stopped. ``--plot FILE`` draws the
result (with ``hasim.plot``; the suffix picks the format: ``.png``, ``.svg``,
``.pdf``, ...): ``run`` and ``compare`` show each design's availability (uptime with
``--no-traffic``) and its 95 % interval, ``compare`` also the paired difference of
every design from the first; ``sweep`` the availability against the first ``--grid``
parameter, one line per design (and per value of the other grid parameters).

``--chaos FILE`` applies a chaos schedule (``[[fault]]`` tables, see
``hasim.chaos``) in every run, or replays a fault history written by
``--faults-out FILE`` (the faults of replication 0, the seed's run): a replay
on another design skips the components it does not have, and says so.

``hasim check FILE...`` validates design files without running them: one line
per file, exit code 2 (and the file, line, table and key on stderr) for the first
error. ``hasim draw FILE`` draws a design file (components in their zones, arrows
for requests, failover, replication and links) to a PNG (``-o``).

``hasim validate`` runs the validation cases (``hasim.validation``) to their
stated precision and prints, per case, the theory, the simulated mean, its 95 %
interval and the verdict, then the coverage check across cases; exit code 1 if
the suite fails.

Exit codes: 0 ok; 1 some runs failed (the table of the others is still printed;
for ``validate``: the suite failed); 2 bad usage, model, parameter or option value
(one line on stderr); 130 interrupted.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import math
import os
import re
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from hasim import units
from hasim.chaos import Chaos, ScheduleError
from hasim.designfile import DesignError
from hasim.errors import ConfigError, HasimError
from hasim.metrics.result import SUMMARY_COLUMNS

__all__ = ["main", "parse_value", "METRICS"]

#: Every metric of a run, in the order of the runs table (the README documents them).
METRICS = (*SUMMARY_COLUMNS, "unavailability", "downtime_fraction")
DEFAULT_RATE = 10.0
_ID_COLUMNS = {"design", "point", "params", "rep", "seed"}


# -- parsing values -------------------------------------------------------------------------------


def parse_value(text: str) -> Any:
    """A parameter value typed on the command line.

    A Python literal (``8``, ``0.6``, ``None``, ``True``, ``[1, 2]``, ``'quoted'``;
    also ``none``, ``true``, ``false`` and ``inf``), else a duration in seconds when it
    reads as one (``20m`` -> 1200.0, ``250ms`` -> 0.25), else the text itself
    (``az2``).
    """
    words = {"none": None, "null": None, "true": True, "false": False, "inf": math.inf}
    lowered = text.strip().lower()
    if lowered in words:
        return words[lowered]
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    try:
        return units.parse(text)
    except ConfigError:
        return text


def _split_values(text: str) -> list[str]:
    """Split ``a,b,[1, 2]`` at the commas outside brackets and quotes."""
    items, depth, quote, start = [], 0, "", 0
    for i, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    return [item.strip() for item in items]


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _name_value(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not _NAME.fullmatch(name) or not value.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value.strip()


def _setting(text: str) -> tuple[str, Any]:
    name, value = _name_value(text)
    return name, parse_value(value)


def _grid_axis(text: str) -> tuple[str, list[Any], list[str]]:
    name, value = _name_value(text)
    tokens = _split_values(value)
    if any(not token for token in tokens):
        raise argparse.ArgumentTypeError(f"empty value in --grid {text!r}")
    values = [parse_value(token) for token in tokens]
    if len({repr(v) for v in values}) < len(values):
        raise argparse.ArgumentTypeError(f"{name} repeats a value: {text!r}")
    return name, values, tokens


def _duration(text: str) -> float:
    try:
        return units.parse(text)
    except ConfigError:
        raise argparse.ArgumentTypeError(
            f"expected a duration such as 7d, 1h, 250ms or 30 (seconds), got {text!r}"
        ) from None


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def _integer(minimum: int):
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return value

    convert.__name__ = f"integer >= {minimum}"
    return convert


# -- the parser -----------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: ``hasim run: error: ...``."""

    def error(self, message: str) -> NoReturn:
        """Print one line and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message}\n")


def _add_set_option(group: Any, help: str) -> None:
    """``--set NAME=VALUE`` (repeatable), collected in ``args.settings``."""
    group.add_argument(
        "--set",
        dest="settings",
        metavar="NAME=VALUE",
        type=_setting,
        action="append",
        default=[],
        help=help,
    )


def _add_run_options(command: argparse.ArgumentParser, *, faults_out: bool = False) -> None:
    """The options of run, compare and sweep (not via parents=: they lose their groups)."""
    run = command.add_argument_group("runs")
    _add_set_option(run, "a model parameter (repeatable); literals, durations (mttr=20m) or text")
    run.add_argument(
        "--horizon",
        type=_duration,
        default=None,
        help="simulated time per run (default: the design file's, else 7d)",
    )
    run.add_argument(
        "--warmup",
        type=_duration,
        default=None,
        help="unmeasured start of each run (default: the design file's, else 0)",
    )
    reps = run.add_mutually_exclusive_group()
    reps.add_argument("--reps", type=_integer(1), help="replications per design point (default 10)")
    reps.add_argument(
        "--target",
        metavar="METRIC:rel=R,abs=A,min=N,max=N,batch=N",
        help="add replications until the 95%% interval of METRIC is narrow enough, "
        "e.g. unavailability:rel=0.1,max=200",
    )
    run.add_argument(
        "--seed",
        type=_integer(0),
        default=None,
        help="replication r runs with seed SEED + r (default: the design file's, else 0)",
    )
    load = command.add_argument_group("workload (default: the model's WORKLOAD, else --rate 10)")
    kind = load.add_mutually_exclusive_group()
    kind.add_argument("--rate", type=_positive, help="open loop: Poisson requests per second")
    kind.add_argument("--users", type=_integer(1), help="closed loop: this many users")
    kind.add_argument(
        "--no-traffic", action="store_true", help="no clients: state-only runs (uptime)"
    )
    load.add_argument("--think", type=_duration, help="mean think time of --users (exponential)")
    load.add_argument("--timeout", type=_duration, help="client timeout per request")
    where = command.add_argument_group("execution and output")
    where.add_argument(
        "--workers", type=_integer(1), help="processes (default: all cores; 1 runs serially)"
    )
    where.add_argument(
        "--dask", metavar="ADDRESS", help="run on Dask: 'local' (a LocalCluster) or a scheduler"
    )
    where.add_argument(
        "--out", metavar="DIR", help="keep every finished run in DIR; rerunning resumes"
    )
    where.add_argument("--json", action="store_true", help="print one JSON object per design point")
    where.add_argument("--csv", metavar="FILE", help="write the runs table (one row per run)")
    where.add_argument(
        "--plot",
        metavar="FILE",
        help="draw the availability with its 95%% interval per design (sweep: against the "
        "first --grid parameter) to FILE (.png, .svg, .pdf, ...)",
    )
    faults = command.add_argument_group("fault injection")
    faults.add_argument(
        "--chaos",
        metavar="FILE",
        help="apply the chaos schedule, or replay the fault history, in FILE (TOML) in every run",
    )
    if faults_out:
        faults.add_argument(
            "--faults-out",
            metavar="FILE",
            help="write the fault history of replication 0 to FILE (TOML, for --chaos)",
        )


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="hasim",
        description="Simulate highly available designs: availability, recovery and throughput "
        "with confidence intervals.",
        epilog="Exit codes: 0 ok, 1 some runs failed, 2 usage or configuration error, "
        "130 interrupted. See 'hasim COMMAND --help'.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    model = "a ready model's name (see hasim models), a .py model file or a .toml design file"
    run = commands.add_parser("run", help="run one model", description="Run one model.")
    run.add_argument("models", nargs=1, metavar="MODEL", help=model)
    compare = commands.add_parser(
        "compare",
        help="run models side by side and compare them",
        description="Run several models on the same seeds; paired differences with the first.",
    )
    compare.add_argument("models", nargs="+", metavar="MODEL", help=f"two or more: {model}")
    sweep = commands.add_parser(
        "sweep",
        help="run a model over a grid of parameter values",
        description="Run one model at every combination of the --grid values.",
    )
    sweep.add_argument("models", nargs=1, metavar="MODEL", help=model)
    sweep.add_argument(
        "--grid",
        metavar="NAME=V1,V2,...",
        type=_grid_axis,
        action="append",
        help="values of a parameter (repeatable: every combination is run); "
        "default: the design file's [experiment] grid",
    )
    for command in (run, compare, sweep):
        _add_run_options(command, faults_out=command is run)
    check = commands.add_parser(
        "check",
        help="validate design files without running them",
        description="Read and check design files (.toml): one summary line each; exit code 2 "
        "and one line naming the file, line, table and key for the first error.",
    )
    check.add_argument("files", nargs="+", metavar="FILE", help="design files (.toml)")
    draw = commands.add_parser(
        "draw",
        help="draw a design file",
        description="Draw a design file: components grouped in their zones, arrows for "
        "requests, failover, replication and links.",
    )
    draw.add_argument("files", nargs=1, metavar="FILE", help="a design file (.toml)")
    draw.add_argument(
        "-o", "--output", metavar="FILE", help="the picture (.png, .svg, .pdf; default FILE.png)"
    )
    _add_set_option(draw, "a design parameter (repeatable)")
    models = commands.add_parser(
        "models",
        help="list the ready models and their parameters",
        description="List models: name, description, parameters and their defaults.",
    )
    models.add_argument("models", nargs="*", metavar="MODEL", help="only these (names or files)")
    validate = commands.add_parser(
        "validate",
        help="check the simulator against theory",
        description="Run the validation cases to their stated precision against their theory.",
    )
    validate.add_argument(
        "--full", action="store_true", help="release precision (minutes of CPU; default: quick)"
    )
    validate.add_argument("--markdown", action="store_true", help="print VALIDATION.md")
    validate.add_argument(
        "--case", action="append", metavar="NAME", help="only this case (repeatable)"
    )
    validate.add_argument("--workers", type=_integer(1), default=None, help="processes")
    return parser


# -- main -----------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``hasim`` command line; return the exit code."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as stop:  # --help, or a usage error already printed
        return stop.code if isinstance(stop.code, int) else 0
    try:
        if args.command == "models":
            return _list_models(args.models)
        if args.command == "validate":
            return _validate(args)
        if args.command == "check":
            return _check_designs(args.files)
        if args.command == "draw":
            return _draw_design(args)
        return _experiment(args)
    except (ScheduleError, DesignError) as error:  # name their file and line themselves
        print(f"hasim: {error}", file=sys.stderr)
        return 2
    except HasimError as error:
        print(f"hasim: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hasim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `hasim run ... --json | head -1`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _validate(args: argparse.Namespace) -> int:
    from hasim.validation import validate

    mode = "full" if args.full else "quick"
    report = validate(mode, cases=args.case, workers=args.workers, progress=True)
    print(report.to_markdown() if args.markdown else report.to_text())
    return 0 if report.passed else 1


def _experiment(args: argparse.Namespace) -> int:
    from hasim.experiment import Experiment, ModelRef, Target
    from hasim.experiment.runner import RunFailed

    if args.command == "compare" and len(args.models) < 2:
        raise ConfigError("compare: give two or more models (hasim run runs one)")
    refs = [ModelRef.of(model) for model in args.models]
    labels = [ref.label for ref in refs]
    twice = sorted({label for label in labels if labels.count(label) > 1})
    if twice:
        raise ConfigError(f"compare: give distinct models, got {', '.join(twice)} twice")
    grid, tokens = {}, {}
    for name, values, typed in getattr(args, "grid", None) or []:
        if name in grid:
            raise ConfigError(f"sweep: --grid {name} is given twice")
        grid[name] = values
        tokens[name] = {repr(v): t for v, t in zip(values, typed, strict=True)}
    # Settings the command line gives: the design files need not agree on them.
    given = {name for name in ("horizon", "warmup", "seed") if getattr(args, name) is not None}
    if args.reps is not None or args.target is not None:
        given |= {"reps", "target"}
    if grid:
        given |= {"grid", "grid_tokens"}
    defaults = _file_settings(refs, given)  # the design files' [experiment] sections
    if not grid and "grid" in defaults:
        grid, tokens = defaults["grid"], defaults["grid_tokens"]
    if args.command == "sweep" and not grid:
        raise ConfigError(
            "sweep: the following arguments are required: --grid NAME=V1,V2,... "
            "(or a design file with an [experiment] grid)"
        )
    params = dict(args.settings)
    both = sorted(set(params) & set(grid))
    if both:
        raise ConfigError(f"sweep: {', '.join(both)} given in both --set and --grid")
    target, reps = None, args.reps
    if args.target is not None:
        target = Target.parse(args.target)
    elif reps is None:
        target, reps = defaults.get("target"), defaults.get("reps")
    if target is not None:
        if target.metric not in METRICS:
            raise ConfigError(
                f"Target: metric must be one of {', '.join(METRICS)}, got {target.metric!r}"
            )
    for option in ("csv", "faults_out", "plot"):
        path = getattr(args, option, None)
        if path is not None and not Path(path).resolve().parent.is_dir():
            flag = "--" + option.replace("_", "-")
            raise ConfigError(f"{flag}: the folder of {path!r} does not exist")
    if args.plot is not None:
        _check_plot_format(args.plot)
    workload = _workload(args, refs, params, grid)
    if workload is None:  # --no-traffic, or design files without traffic: uptime is the metric
        args.no_traffic = True
    if args.chaos is not None:
        workload = _WithChaos.read(args.chaos, workload)
    experiment = Experiment(
        {ref.label: ref for ref in refs} if len(refs) > 1 else refs[0],
        grid=grid or None,
        params=params,
        workload=workload,
        horizon=_given(args.horizon, defaults.get("horizon"), 7 * units.days),
        warmup=_given(args.warmup, defaults.get("warmup"), 0.0),
        reps=reps,
        target=target,
        seed=_given(args.seed, defaults.get("seed"), 0),
    )
    if args.chaos is not None:
        _check_chaos(experiment)
    _preflight(experiment)
    executor, workers = _executor(args)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RunFailed)  # reported below, once
            result = experiment.run(executor=executor, workers=workers, out=args.out)
    except KeyboardInterrupt:
        if args.out is not None:
            kept = len(list((Path(args.out) / "runs").glob("*.json")))
            where = f"{kept} finished runs are in {args.out}; rerun the same command to resume"
        else:
            where = "nothing was kept (use --out DIR to keep finished runs and resume)"
        print(f"hasim: interrupted; {where}", file=sys.stderr)
        return 130
    except OSError as error:  # an unreachable Dask scheduler, an unwritable --out
        where = f"--dask {args.dask}: " if args.dask not in (None, "local") else ""
        raise ConfigError(f"{where}{type(error).__name__}: {error}") from None

    stats = _point_stats(result, experiment)
    if args.json:
        for point, reps, metrics in stats:
            print(json.dumps(_json_object(point, reps, metrics), default=repr))
    else:
        print(_caption(experiment))
        print()
        print(_table(stats, tokens))
        if args.command == "compare":
            print()
            print(_comparison(result, experiment, "uptime" if args.no_traffic else "availability"))
    if args.csv is not None:
        result.to_csv(args.csv)
    if args.plot is not None:
        _write_plot(args, result, experiment, tokens)
    if getattr(args, "faults_out", None) is not None:
        _write_faults(experiment, args.faults_out)
    return _report_failures(result, len(result) + len(result.failures), args.out)


def _given(flag: Any, file: Any, default: Any) -> Any:
    """The command line's value, else the design file's, else the default."""
    return flag if flag is not None else file if file is not None else default


def _file_settings(refs: list[Any], given: set[str]) -> dict[str, Any]:
    """The ``[experiment]`` settings of the design files among ``refs``.

    The files must agree on each setting the command line does not give (``given``).
    """
    merged: dict[str, Any] = {}
    for ref in refs:
        design = getattr(ref.module(), "DESIGN", None)
        if design is None:
            continue
        settings = dict(design.experiment)
        if "grid" in settings:
            settings["grid_tokens"] = design.grid_tokens
        for name, value in settings.items():
            if name in given:
                continue
            if name in merged and repr(merged[name]) != repr(value):
                flag = {"target": "--reps or --target", "grid_tokens": "--grid"}.get(name, name)
                flag = flag if flag.startswith("--") else f"--{flag}"
                duration = units.format_duration
                shown = {"horizon": duration, "warmup": duration}.get(name, repr)
                raise ConfigError(
                    f"the design files' [experiment] sections differ in {name} "
                    f"({shown(merged[name])} and {shown(value)}): give {flag}"
                )
            merged[name] = value
    return merged


def _workload(
    args: argparse.Namespace, refs: list[Any], params: dict[str, Any], grid: dict[str, list]
) -> Any:
    if args.think is not None and args.users is None:
        raise ConfigError("--think applies to a closed loop: give --users too")
    if args.no_traffic:
        if args.timeout is not None:
            raise ConfigError("--timeout applies to requests: not with --no-traffic")
        return None
    if args.rate is not None:
        workload: dict[str, Any] = {"rate": args.rate}
    elif args.users is not None:
        workload = {"users": args.users}
        if args.think is not None:
            from hasim.dist import Exponential

            workload["think_time"] = Exponential(mean=args.think)
    else:
        defaults = {ref.label: _module_workload(ref, params, grid) for ref in refs}
        distinct = {json.dumps(w, sort_keys=True, default=repr) for w in defaults.values()}
        if len(distinct) > 1:
            raise ConfigError(
                f"the models declare different default workloads ({defaults}); "
                "give --rate, --users or --no-traffic"
            )
        workload = next(iter(defaults.values()))
        if workload is None:  # a design file's [workload] kind = "none"
            if args.timeout is not None:
                raise ConfigError("--timeout applies to requests: the design has no traffic")
            return None
        if not isinstance(workload, dict):  # a design file's FileWorkload (retries, ...)
            if args.timeout is not None:
                workload = dataclasses.replace(workload, timeout=args.timeout)
            return workload
        workload = dict(workload)
    if args.timeout is not None:
        workload["timeout"] = args.timeout
    return workload


def _module_workload(ref: Any, params: dict[str, Any], grid: dict[str, list]) -> Any:
    """The model module's optional ``WORKLOAD`` dict, else an open loop at DEFAULT_RATE.

    A design file's ``[workload]`` may also be None (no traffic) or a ``FileWorkload``,
    and may use parameters: ``--set`` changes it; one workload serves every grid point,
    so a ``--grid`` parameter it uses is refused.
    """
    module = ref.module()
    workload = getattr(module, "WORKLOAD", None)
    design = getattr(module, "DESIGN", None)
    if design is not None and hasattr(module, "WORKLOAD"):
        workload = design.workload_for(params)
        for name, values in grid.items():
            if any(design.workload_for({**params, name: v}) != workload for v in values):
                raise ConfigError(
                    f"sweep: --grid {name}: the [workload] of {ref.label} uses it, and one "
                    "workload serves every grid point; sweep a parameter of the components, "
                    "or run each value with --set"
                )
        return workload
    if workload is None:
        return {"rate": DEFAULT_RATE}
    if not isinstance(workload, dict):
        raise ConfigError(f"{ref.label}: WORKLOAD must be a dict, got {workload!r}")
    return workload


def _executor(args: argparse.Namespace) -> tuple[str, int | None]:
    if args.dask is None:
        return ("serial", None) if args.workers == 1 else ("processes", args.workers)
    if args.dask == "local":
        return "dask", args.workers
    if args.workers is not None:
        raise ConfigError("--workers applies to local runs and --dask local, not to a scheduler")
    if "://" in args.dask:
        return args.dask, None
    return f"tcp://{args.dask}", None


def _preflight(experiment: Any) -> None:
    """Build every design point once, so bad parameter values fail here, in one line."""
    try:
        experiment.check()
    except ConfigError as error:
        raise ConfigError(str(error)) from None


# -- design files ---------------------------------------------------------------------------------


def _check_designs(files: Sequence[str]) -> int:
    """``hasim check``: one summary line per valid file; the first error ends with exit code 2."""
    from hasim.designfile import load_design

    for path in files:
        print(load_design(path).summary())
    return 0


def _draw_design(args: argparse.Namespace) -> int:
    """``hasim draw``: the design file drawn to ``-o FILE`` (default: its name with .png)."""
    from hasim.designfile import draw, load_design

    path = args.files[0]
    output = args.output or str(Path(Path(path).name).with_suffix(".png"))
    if not Path(output).resolve().parent.is_dir():
        raise ConfigError(f"-o: the folder of {output!r} does not exist")
    _check_plot_format(output, "-o")
    draw(load_design(path), output, **dict(args.settings))
    print(f"hasim: wrote the drawing of {path} to {output}", file=sys.stderr)
    return 0


# -- fault injection ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _WithChaos:
    """A workload that also applies a chaos schedule (TOML text) to every run it is given."""

    workload: Any
    text: str
    source: str

    @classmethod
    def read(cls, path: str, workload: Any) -> _WithChaos:
        from hasim.experiment.design import as_workload

        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"--chaos: cannot read {path!r}: {error}") from None
        return cls(as_workload(workload), text, path)

    def __call__(self, sim: Any, entry: Any) -> Chaos:
        if self.workload is not None:
            self.workload(sim, entry)
        # The text, not the path: workers (a Dask cluster) may not see the file. A string
        # with a newline is read as text, even a file of one line.
        return Chaos.from_toml(sim, self.text + "\n", source=self.source)


def _check_chaos(experiment: Any) -> None:
    """Apply the schedule to every design point once: errors name the design, notes the skips.

    Errors that are not the schedule's are left to ``_preflight``, which names the parameters.
    """
    from hasim.sim import Simulation

    source, several, notes = experiment.workload.source, len(experiment.designs) > 1, {}
    for point in experiment.points:
        sim = Simulation(seed=experiment.seed, record="aggregate")
        build, _, _ = point.model.load()
        try:
            chaos = experiment.workload(sim, build(sim, **point.params))
        except ScheduleError as error:
            if not several:
                raise
            reason = f"{error.reason} (in design {point.design!r})"
            raise ScheduleError(error.source, error.line, reason) from None
        except Exception:  # noqa: BLE001 - _preflight reports it with the parameters
            return
        if chaos.absent:
            absent = ", ".join(map(repr, chaos.absent))
            skipped = f"{len(chaos.skipped)} of {len(chaos.actions)} faults skipped"
            notes[point.design, chaos.absent] = (
                f"hasim: note: {source}: design {point.design!r} has no {absent}: {skipped}"
            )
    for note in notes.values():
        print(note, file=sys.stderr)


def _write_faults(experiment: Any, path: str) -> None:
    """Run replication 0 of the first design point again and write its fault history."""
    from hasim.sim import Simulation

    task = experiment.task(experiment.points[0], 0)
    build, _, _ = task.point.model.load()
    sim = Simulation(seed=task.seed, record="aggregate")
    entry = build(sim, **task.point.params)
    if task.workload is not None:
        task.workload(sim, entry)
    # The general engine: the lean one keeps no fault history.
    history = sim.run(until=task.horizon, warmup=task.warmup, engine="events").fault_history()
    history.to_toml(path)
    print(
        f"hasim: wrote the {_faults(len(history))} of replication 0 (seed {task.seed}) to {path}",
        file=sys.stderr,
    )


# -- results --------------------------------------------------------------------------------------


def _point_stats(result: Any, experiment: Any) -> list[tuple[Any, int, dict[str, tuple]]]:
    """For every design point: ``(point, reps, {metric: (mean, lo, hi)})``, NaN if unknown."""
    from hasim.experiment.stats import nines

    runs = result.runs
    # A grid parameter has a column of its own, unless a metric has its name (mttr): then the
    # column holds the metric. Points carry their parameters, so group by point.
    grid_only = set(result.grid_names) - set(METRICS)
    # In METRICS order: runs read back from --out come with their keys sorted.
    extra = sorted(set(runs.columns) - _ID_COLUMNS - grid_only - set(METRICS))
    names = [*METRICS, *extra]
    # nines of the mean availability (and uptime), not the mean of each run's nines (often inf)
    derived = {"nines": "availability", "uptime_nines": "uptime"}
    measured = [m for m in names if m in runs.columns and m not in derived]
    rows = {}
    if len(runs):
        for _, row in result.summary(by="point", metrics=measured).iterrows():
            rows[int(row["point"])] = row
    stats = []
    for point in experiment.points:
        row = rows.get(point.index)
        metrics: dict[str, tuple] = {}
        for name in names:
            base = derived.get(name, name)
            if row is None or base not in row:
                metrics[name] = (math.nan, math.nan, math.nan)
            elif name in derived:
                lo, mean, hi = row[f"{base}_lo"], row[base], min(row[f"{base}_hi"], 1.0)
                metrics[name] = (nines(mean), nines(lo), nines(hi))
            else:
                metrics[name] = (row[name], row[f"{name}_lo"], row[f"{name}_hi"])
        stats.append((point, 0 if row is None else int(row["reps"]), metrics))
    return stats


def _number(x: Any) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _json_object(point: Any, reps: int, metrics: dict[str, tuple]) -> dict[str, Any]:
    return {
        "model": point.design,
        "params": point.params,
        "reps": reps,
        "metrics": {
            name: {"mean": _number(mean), "ci95": [_number(lo), _number(hi)]}
            for name, (mean, lo, hi) in metrics.items()
        },
    }


def _caption(experiment: Any) -> str:
    fmt = units.format_duration
    workload = experiment.workload
    chaos = ""
    if isinstance(workload, _WithChaos):
        workload, chaos = workload.workload, f", chaos {workload.source}"
    if workload is None:
        load = "no traffic (uptime only)"
    elif getattr(workload, "rate", None) is not None:
        load = f"open loop {workload.rate:g} req/s"
    else:
        think = units.format_duration(workload.think_time.mean)
        load = f"closed loop {workload.users} users, mean think time {think}"
    if getattr(workload, "timeout", None) is not None:
        load += f", timeout {fmt(workload.timeout)}"
    if experiment.target is not None:
        t = experiment.target
        within = [f"±{t.rel:.0%}"] if t.rel is not None else []
        within += [f"±{t.abs:g}"] if t.abs is not None else []
        reps = f"replications until {t.metric} is within {' and '.join(within)} (max {t.max_reps})"
    else:
        reps = f"{experiment.reps} replication{'s' if experiment.reps > 1 else ''}"
    return (
        f"{reps} of {fmt(experiment.horizon)} (warm-up {fmt(experiment.warmup)}), {load}, "
        f"seed {experiment.seed}{chaos}; means, availability ± its 95 % interval"
    )


def _decimals(width: float) -> int:
    """Decimals that show two significant digits of an interval's half-width (4 to 9)."""
    half = width / 2
    if not 0 < half < math.inf:
        return 4 if half == 0 else 6
    return min(max(1 - math.floor(math.log10(half)), 4), 9)


def _table(stats: list, tokens: dict[str, dict[str, str]]) -> str:
    """One line per design point: the grid values as typed, then the main metrics."""
    grid = list(tokens)
    headers = ["design", *grid, "reps", "availability", "nines", "uptime", "incidents", "MTTR"]
    headers += ["throughput/s", "p99 latency"]
    rows, means, halves = [], [], []
    for point, reps, m in stats:
        a, a_lo, a_hi = m["availability"]
        u, u_lo, u_hi = m["uptime"]
        half, a_places, u_places = (a_hi - a_lo) / 2, _decimals(a_hi - a_lo), _decimals(u_hi - u_lo)
        means.append(_shown(a, f"{{:.{a_places}f}}".format))
        halves.append("" if math.isnan(a) else f"± {half:.2g}")
        rows.append(
            [
                point.design,
                # grid values as the user typed them ("20m", not 1200.0)
                *(tokens[name].get(repr(point.params[name]), "?") for name in grid),
                str(reps),
                "",  # availability: filled in below, aligned on "±"
                _shown(m["nines"][0], "{:.2f}".format),
                _shown(u, f"{{:.{u_places}f}}".format),
                _shown(m["incidents"][0], "{:.3g}".format),
                _shown(m["mttr"][0], units.format_duration),
                _shown(m["throughput"][0], "{:.4g}".format),
                _shown(m["latency_p99"][0], units.format_duration),
            ]
        )
    column = len(grid) + 2
    mean_width = max(map(len, means), default=0)
    half_width = max(map(len, halves), default=0)
    for row, mean, half in zip(rows, means, halves, strict=True):
        row[column] = f"{mean:>{mean_width}} {half:<{half_width}}"
    left = set(range(1 + len(grid)))  # the design and the grid values
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for r in [headers, *rows]:
        cells = [c.ljust(widths[i]) if i in left else c.rjust(widths[i]) for i, c in enumerate(r)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _shown(value: float, fmt: Any) -> str:
    """``fmt(value)``, or "-" where the metric is undefined (NaN)."""
    return "-" if math.isnan(value) else fmt(value)


def _comparison(result: Any, experiment: Any, metric: str) -> str:
    designs = list(experiment.designs)
    lines = [f"paired difference in {metric}, first design minus each other (same seeds; 95 %):"]
    present = set(result.runs["design"]) if len(result) else set()
    for other in designs[1:]:
        if designs[0] not in present or other not in present:
            lines.append(f"  {designs[0]} - {other}: no finished runs to pair")
            continue
        for _, row in result.compare(designs[0], other, metric).iterrows():
            lines.append(
                f"  {designs[0]} - {other}: {row['diff']:+.3g} "
                f"[{row['diff_lo']:+.3g}, {row['diff_hi']:+.3g}] over {row['pairs']} pairs "
                f"(unpaired interval ± {row['unpaired_half_width']:.2g})"
            )
    return "\n".join(lines)


def _check_plot_format(path: str, flag: str = "--plot") -> None:
    """Refuse a --plot FILE whose suffix matplotlib cannot write, before anything runs."""
    from matplotlib.figure import Figure

    formats = Figure().canvas.get_supported_filetypes()
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in formats:
        allowed = ", ".join(f".{f}" for f in sorted(formats))
        raise ConfigError(f"{flag}: FILE must end in one of {allowed}, got {path!r}")


def _write_plot(args: argparse.Namespace, result: Any, experiment: Any, tokens: dict) -> None:
    """Draw the result with hasim.plot on a Figure of its own (no pyplot, no backend)."""
    import textwrap

    from matplotlib.figure import Figure

    from hasim import plot

    if not len(result):
        print(f"hasim: no finished runs: {args.plot} not written", file=sys.stderr)
        return
    metric = "uptime" if args.no_traffic else "availability"
    designs = list(experiment.designs)
    if args.command == "sweep":
        name = result.grid_names[0]
        durations = all(_typed_as_duration(t) for t in tokens.get(name, {}).values())
        fig = Figure(figsize=(8, 5), layout="constrained")
        plot.availability_curve(
            result, name, metric, ax=fig.subplots(), x_unit="auto" if durations else None
        )
    else:
        rows = len(result.runs.groupby(["design", *result.grid_columns]))
        height = max(3.2, 1.9 + 0.42 * rows)
        finished = set(result.runs["design"])
        if len(designs) > 1 and finished == set(designs):
            fig = Figure(figsize=(11, height), layout="constrained")
            axes = fig.subplots(1, 2, sharey=True)
            plot.compare(result, metric, ax=axes, baseline=designs[0])
        else:
            fig = Figure(figsize=(7.5, height), layout="constrained")
            plot.compare(result, metric, ax=fig.subplots())
    fig.suptitle(textwrap.fill(_caption(experiment), 130), fontsize=8)
    fig.savefig(args.plot, dpi=120)
    print(f"hasim: wrote the plot to {args.plot}", file=sys.stderr)


def _typed_as_duration(token: str) -> bool:
    """Whether a --grid value was typed as a duration (``20m``), not a number or text."""
    try:
        ast.literal_eval(token)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        try:
            units.parse(token)
        except ConfigError:
            return False
        return True
    return False


def _report_failures(result: Any, total: int, out: str | None) -> int:
    failures = result.failures
    if not len(failures):
        return 0
    print(f"hasim: {len(failures)} of {total} runs failed:", file=sys.stderr)
    for _, f in failures.head(5).iterrows():
        print(
            f"  {f['design']} {f['params']} rep {f['rep']} seed {f['seed']}: {f['error']}",
            file=sys.stderr,
        )
    if len(failures) > 5:
        print(f"  ... and {len(failures) - 5} more", file=sys.stderr)
    if out is not None:
        print(f"  tracebacks are in {Path(out) / 'failed'}", file=sys.stderr)
    return 1


# -- models ---------------------------------------------------------------------------------------


def _list_models(models: Sequence[str]) -> int:
    from hasim.experiment import ModelRef, model_names

    lines = []
    for model in models or model_names():
        ref = ModelRef.of(model)
        _, params, doc = ref.load()
        described = _param_docs(doc)
        lines.append(f"{ref.label}  {doc.strip().splitlines()[0] if doc.strip() else ''}".rstrip())
        shown = [(name, _default(value, described.get(name, ""))) for name, value in params.items()]
        width = max((len(n) for n, _ in shown), default=0)
        vwidth = max((len(v) for _, v in shown), default=0)
        for name, value in shown:
            text = described.get(name, "")
            lines.append(f"    {name:<{width}}  {value:<{vwidth}}  {text}".rstrip())
        lines.append("")
    lines.append(
        "A MODEL is one of these names or a path to a .py file with PARAMS and "
        "build(sim, **params); set parameters with --set NAME=VALUE."
    )
    print("\n".join(lines))
    return 0


def _param_docs(doc: str) -> dict[str, str]:
    """``{name: description}`` from docstring bullets such as ``- ``mttf``: mean ...``."""
    found: dict[str, str] = {}
    current = None
    for line in doc.splitlines():
        match = re.match(r"\s*[-*]\s+``(\w+)``\s*:\s*(.*)", line)
        if match:
            current = match[1]
            found[current] = match[2].strip().replace("``", "")
        elif current and line.strip() and not line.lstrip().startswith(("-", "*")):
            found[current] += " " + line.strip().replace("``", "")
        else:
            current = None
    return found


def _default(value: Any, description: str) -> str:
    """A default as one would type it after --set; durations (per the docstring) in units."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, (int, float)) and "second" in description:
        return units.format_duration(value).replace(" ", "")
    return value if isinstance(value, str) else repr(value)


if __name__ == "__main__":
    sys.exit(main())


def _faults(n: int) -> str:
    return f"{n} fault" if n == 1 else f"{n} faults"
