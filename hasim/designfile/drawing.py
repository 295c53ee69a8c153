"""Draw a design file: components as boxes in their zones, arrows for who sends to whom.

Rows follow the requests: the clients on top, then the entry service, then what it
sends to (a balancer's backends, a failover pair's members, an app server's
database, a store's replicas). Zones are shaded columns; components without a
zone (a regional balancer, the clients) sit across the top. Solid arrows carry
requests, a dashed one goes to a standby, thin green ones to a store's replicas,
dotted lines are links with their latency.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from hasim import units
from hasim.designfile.loader import Design, load_design

__all__ = ["draw", "layout"]

#: Box colours by kind (face, edge).
COLOURS = {
    "users": ("#f4f4f4", "#777777"),
    "server": ("#dbe9f6", "#4c78a8"),
    "app_server": ("#dbe9f6", "#4c78a8"),
    "node": ("#e8e8e8", "#666666"),
    "balancer": ("#fde3c4", "#e08a1e"),
    "failover": ("#e6dcf2", "#7b5aa6"),
    "store": ("#d8efd3", "#3f8f3f"),
    "replica": ("#eef8ec", "#3f8f3f"),
}
ZONE_COLOURS = ["#fff6d8", "#e3f1fb", "#f6e6f0", "#e6f4ea", "#f1ece0", "#ece8f7"]

_BOX_W, _BOX_H, _STEP_X, _STEP_Y = 1.7, 0.78, 2.05, 1.55
#: Where a box's lines sit (a share of its height), by how many lines follow the second.
_ROWS = {
    0: (0.2, -0.07),
    1: (0.2, -0.07, -0.3),
    2: (0.28, 0.06, -0.15, -0.34),
    3: (0.33, 0.14, -0.04, -0.2, -0.36),
}


def _failures_text(component: Any) -> str:
    models = component.failures
    models = models if isinstance(models, (list, tuple)) else [models]
    for model in models:
        ttf, ttr = getattr(model, "ttf", None), getattr(model, "ttr", None)
        if ttf is not None and ttr is not None:
            return f"MTTF {_short(ttf.mean)} · MTTR {_short(ttr.mean)}"
    return ""


_GRAY = {"Slowdowns": "slowdowns", "ErrorBursts": "error bursts", "Stalls": "stalls",
         "Flapping": "flapping"}  # fmt: skip


def _gray_text(component: Any) -> str:
    """The gray failures a component has (slowdowns, error bursts, ...), if any."""
    models = component.failures
    models = models if isinstance(models, (list, tuple)) else [models]
    gray = [_GRAY[type(m).__name__] for m in models if type(m).__name__ in _GRAY]
    return ("+ " + ", ".join(gray)) if gray else ""


def _short(seconds: float) -> str:
    return units.format_duration(seconds).replace(" ", "")


def _describe(kind: str, component: Any) -> str:
    """The second line of a box: what the component is and its main setting."""
    if kind in ("server", "app_server"):
        what = "app server" if kind == "app_server" else "server"
        workers = component.workers
        return f"{what} · {workers} worker{'s' * (workers != 1)}"
    if kind == "balancer":
        policy = re.sub(r"(?<!^)(?=[A-Z])", " ", type(component.policy).__name__).lower()
        return f"balancer · {policy}"
    if kind == "failover":
        return f"failover · {component.failback}"
    if kind.startswith("store:"):
        store = kind.split(":", 1)[1]
        if store == "quorum":
            n = len(component.replicas)
            return f"quorum N={n} R={component.r} W={component.w}"
        if store == "raft":
            return f"raft · {len(component.nodes)} nodes"
        if store == "primary_backup":
            return f"primary-backup · {component.mode}"
        return "single copy"
    return kind


#: How a preset's name reads in a box.
_PRESET_NAMES = {"alb": "ALB", "nlb": "NLB", "envoy": "Envoy", "haproxy": "HAProxy", "gcp": "GCP",
                 "k8s-liveness": "k8s liveness", "k8s-readiness": "k8s readiness"}  # fmt: skip


def _balancer_text(component: Any, check_preset: str | None) -> str:
    """A balancer's health check, ejection and what it does with no healthy backend.

    E.g. ``"ALB checks 30s ×2 · fail-open"``: a probe every 30 s, 2 failed in a row
    mark a backend unhealthy, and with none healthy it sends to them all; ``"ejection"``:
    outlier detection; ``"panic <50%"``: below that share healthy it sends to them all.
    """
    parts = []
    check = component.health_check
    if check is not None:
        who = _PRESET_NAMES.get(check_preset, check_preset or "") if check_preset else ""
        parts.append(f"{who} checks {_short(check.interval)} ×{check.unhealthy_after}".strip())
    if component.outlier_detection is not None:
        parts.append("ejection")
    if component.panic_threshold > 0:
        parts.append(f"panic <{component.panic_threshold:.0%}")
    elif component.when_all_unhealthy == "fail_open":
        parts.append("fail-open")
    return " · ".join(parts)


def layout(design: Design, **params: Any) -> dict[str, Any]:
    """Where each box goes, in data coordinates (rows go down).

    Returns:
        ``{"boxes": {name: (x, y, kind, zone, lines)}, "arrows": [(from, to, style)],
        "zones": [(zone, x0, x1, top, bottom, last)], "built": Builder, "domains": [names]}``.
    """
    built = design.inventory(**params)
    kinds = dict(built.kinds)
    objects = dict(built.by_name)
    zones_of: dict[str, str | None] = {}
    lines: dict[str, list[str]] = {}
    box_kind: dict[str, str] = {}
    for name, obj in objects.items():
        kind = kinds[name]
        if kind in ("crew", "link") or kind in ("region", "zone", "rack", "group"):
            continue
        zone = getattr(obj, "zone", None)
        zones_of[name] = zone if isinstance(zone, str) else None
        lines[name] = [name, _describe(kind, obj), _failures_text(obj), _gray_text(obj)]
        if kind == "balancer":
            if name in built.presets:
                preset = _PRESET_NAMES.get(built.presets[name], built.presets[name])
                lines[name][1] = lines[name][1].replace("balancer", preset, 1)
            check_preset = built.check_presets.get(name)
            if check_preset == built.presets.get(name):  # the second line names it already
                check_preset = None
            lines[name].append(_balancer_text(obj, check_preset))
        box_kind[name] = kind.split(":")[0]
    arrows = [a for a in built.arrows if a[2] != "parent"]
    for src, dst, style in arrows:  # a store's replicas are boxes of their own
        if style == "replica" and dst not in lines:
            replica = next(r for r in _members(objects[src]) if r.name == dst)
            zone = getattr(replica, "zone", None)
            zones_of[dst] = zone if isinstance(zone, str) else None
            lines[dst] = [dst, "replica", _failures_text(replica), _gray_text(replica)]
            box_kind[dst] = "replica"
    workload = design.workload if design.has_workload else None
    if design.has_workload and workload is not None:
        target = getattr(workload, "target", None) or built.entry_name
        get = workload.get if isinstance(workload, dict) else lambda k: getattr(workload, k, None)
        name = "clients"
        if get("users") is not None:
            text = f"closed loop · {get('users')} users"
        else:
            text = f"open loop · {get('rate'):g}/s"
        extra = []
        if get("timeout") is not None:
            extra.append(f"timeout {_short(get('timeout'))}")
        if get("retry") is not None:
            budget = " (budget)" if get("retry").budget is not None else ""
            extra.append(f"{get('retry').attempts} attempts{budget}")
        if get("hedge") is not None:
            extra.append(f"hedge {_short(get('hedge').after)}")
        if get("throttle") is not None:
            extra.append("throttle")
        lines[name] = [name, text, ", ".join(extra), ""]
        box_kind[name] = "users"
        zones_of[name] = None
        arrows.insert(0, (name, target, "request"))

    # rows: longest path from the clients (or the entry) along requests and replication
    children: dict[str, list[str]] = defaultdict(list)
    for src, dst, style in arrows:
        if style != "link" and src in lines and dst in lines:
            children[src].append(dst)
    roots = ["clients"] if "clients" in lines else [built.entry_name]
    depth: dict[str, int] = {}
    frontier = [(r, 0) for r in roots if r in lines]
    while frontier:
        name, d = frontier.pop()
        if depth.get(name, -1) >= d or d > len(lines):
            continue
        depth[name] = d
        frontier.extend((c, d + 1) for c in children[name])
    bottom = max(depth.values(), default=-1) + 1
    for name in lines:
        depth.setdefault(name, bottom)

    # columns: one band per zone (in the order zones first appear), regional boxes centred
    zone_order: list[str] = [
        n for n, k in kinds.items() if k == "zone" and any(z == n for z in zones_of.values())
    ]
    for name in lines:
        zone = zones_of[name]
        if zone is not None and zone not in zone_order:
            zone_order.append(zone)
    rows: dict[int, list[str]] = defaultdict(list)
    for name in lines:
        rows[depth[name]].append(name)
    width = {
        z: max(sum(zones_of[n] == z for n in names) for names in rows.values()) for z in zone_order
    }
    start, x = {}, 0.0
    for zone in zone_order:
        start[zone] = x
        x += width[zone] * _STEP_X + 0.35
    total = max(x - 0.35, _STEP_X)
    boxes: dict[str, tuple[float, float, str, str | None, list[str]]] = {}
    zone_rows: dict[str, list[int]] = defaultdict(list)
    crossing = set()  # rows whose regional boxes sit across the bands: a band stops there
    for row, names in sorted(rows.items()):
        y = -row * _STEP_Y
        free = [n for n in names if zones_of[n] is None]
        if free and len(free) < len(names):  # shares the row with zoned boxes: a column left
            x0 = -len(free) * _STEP_X - 0.35
        else:
            x0 = total / 2 - len(free) * _STEP_X / 2
            if free:
                crossing.add(row)
        for i, name in enumerate(free):
            boxes[name] = (x0 + (i + 0.5) * _STEP_X, y, box_kind[name], None, lines[name])
        for zone in zone_order:
            members = [n for n in names if zones_of[n] == zone]
            offset = (width[zone] - len(members)) * _STEP_X / 2
            for i, name in enumerate(members):
                bx = start[zone] + offset + (i + 0.5) * _STEP_X
                boxes[name] = (bx, y, box_kind[name], zone, lines[name])
            if members:
                zone_rows[zone].append(row)
    zones = []  # (zone, x0, x1, top y, bottom y, the zone's last band)
    for zone in zone_order:
        runs: list[list[int]] = []
        for row in zone_rows.get(zone, []):
            if runs and not any(r in crossing for r in range(runs[-1][-1] + 1, row)):
                runs[-1].append(row)
            else:
                runs.append([row])
        for n, run in enumerate(runs):
            x0, x1 = start[zone], start[zone] + width[zone] * _STEP_X
            zones.append((zone, x0, x1, -run[0] * _STEP_Y, -run[-1] * _STEP_Y, n == len(runs) - 1))
    return {
        "boxes": boxes,
        "arrows": arrows,
        "zones": zones,
        "built": built,
        "domains": [n for n, k in kinds.items() if k in ("region", "zone", "rack", "group")],
    }


def _members(store: Any) -> list[Any]:
    for attr in ("replicas", "nodes"):
        members = getattr(store, attr, None)
        if isinstance(members, (list, tuple)):
            return list(members)
    return []


def draw(design: Design | str | Path, path: str | Path | None = None, **params: Any) -> Any:
    """Draw ``design`` (a Design or a file's path); save to ``path`` if given.

    Args:
        design: a ``Design`` or the path of a design file.
        path: where to save the picture (the suffix picks the format); None: don't save.
        **params: design parameters (as ``--set``), e.g. ``servers=5``.

    Returns:
        the matplotlib Figure.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch

    if not isinstance(design, Design):
        design = load_design(design)
    plan = layout(design, **params)
    boxes, zones = plan["boxes"], plan["zones"]
    xs = [b[0] for b in boxes.values()] + [v for z in zones for v in z[1:3]]
    ys = [b[1] for b in boxes.values()]
    x_lo, x_hi = min(xs) - _BOX_W / 2 - 0.3, max(xs) + _BOX_W / 2 + 0.3
    y_lo, y_hi = min(ys) - _BOX_H / 2 - 0.55, max(ys) + _BOX_H / 2 + 0.3
    scale = 1.05
    fig = Figure(
        figsize=(max(6.5, (x_hi - x_lo) * scale), max(3.8, (y_hi - y_lo) * scale + 1.0)),
        layout="constrained",
    )
    ax = fig.subplots()
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_hi)
    ax.set_aspect("equal")
    ax.axis("off")

    domains = set(plan["domains"])
    colours = {}
    for zone, x0, x1, top, low, last in zones:
        colour = colours.setdefault(zone, ZONE_COLOURS[len(colours) % len(ZONE_COLOURS)])
        below = 0.42 if last else 0.12
        band = FancyBboxPatch(
            (x0 + 0.05, low - _BOX_H / 2 - below),
            x1 - x0 - 0.1,
            top - low + _BOX_H + below + 0.13,
            boxstyle="round,pad=0.02,rounding_size=0.12",
            facecolor=colour,
            edgecolor="#b9b39a" if zone in domains else "#cccccc",
            linestyle="-" if zone in domains else "--",
            linewidth=1.0,
            zorder=0,
        )
        ax.add_patch(band)
        if not last:
            continue
        failing = plan["built"].by_name.get(zone)
        if zone in domains:
            label = f"{failing.kind} {zone}"
            parent = getattr(failing, "parent", None)
            if parent is not None:
                label += f" (in {getattr(parent, 'name', parent)})"
        else:
            label = f"zone {zone} (does not fail)"
        if failing is not None and _failures_text(failing):
            label += "\n" + _failures_text(failing)
        ax.text((x0 + x1) / 2, low - _BOX_H / 2 - 0.36, label, ha="center", va="bottom",
                fontsize=7.5, color="#6b6450", zorder=1)  # fmt: skip

    patches = {}
    for name, (x, y, kind, _zone, text) in boxes.items():
        face, edge = COLOURS.get(kind, COLOURS["node"])
        w, h = (_BOX_W * 0.8, _BOX_H * 0.85) if kind == "replica" else (_BOX_W, _BOX_H)
        patch = FancyBboxPatch(
            (x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.1",
            facecolor=face, edgecolor=edge, linewidth=1.3, zorder=3,
        )  # fmt: skip
        ax.add_patch(patch)
        patches[name] = patch
        # name, what it is, then its failures, its settings (a balancer's checks) and its
        # gray failures, those it has
        extras = [
            (line, size, colour, style)
            for line, size, colour, style in (
                (text[2], 6.2, "#555555", "normal"),
                (text[4] if len(text) > 4 else "", 6.0, "#555555", "normal"),
                (text[3], 6.0, "#9a5b00", "italic"),
            )
            if line
        ]
        rows = _ROWS[min(len(extras), 3)]
        ax.text(x, y + h * rows[0], text[0], ha="center", va="center", fontsize=9,
                fontweight="bold", zorder=4)  # fmt: skip
        ax.text(x, y + h * rows[1], text[1], ha="center", va="center", fontsize=6.8, zorder=4)
        for (line, size, colour, style), row in zip(extras, rows[2:], strict=False):
            ax.text(x, y + h * row, line, ha="center", va="center", fontsize=size,
                    color=colour, style=style, zorder=4)  # fmt: skip

    styles = {
        "request": dict(arrowstyle="-|>", color="#333333", lw=1.1, linestyle="-"),
        "standby": dict(arrowstyle="-|>", color="#7b5aa6", lw=1.1, linestyle="--"),
        "replica": dict(arrowstyle="-|>", color="#3f8f3f", lw=0.9, linestyle="-"),
        "link": dict(arrowstyle="-", color="#aa3333", lw=1.2, linestyle=":"),
    }
    for src, dst, style in plan["arrows"]:
        if src not in patches or dst not in patches:
            continue
        bend = 0.3 if style == "link" else 0.0  # a link beside the request arrow, not on it
        props = dict(styles[style], patchA=patches[src], patchB=patches[dst], shrinkA=1,
                     shrinkB=1, connectionstyle=f"arc3,rad={bend}")  # fmt: skip
        ax.annotate("", xy=boxes[dst][:2], xytext=boxes[src][:2], arrowprops=props, zorder=2)

    built = plan["built"]
    title = design.name + (f": {design.description}" if design.description else "")
    fig.suptitle(title, fontsize=10.5, fontweight="bold")
    notes = [f"up = {built.up_text}" if built.up_text else "up = every node"]
    banded = {z[0] for z in zones}
    for name in plan["domains"]:  # domains that are no band: regions, groups
        if name not in banded:
            domain = built.by_name[name]
            notes.append(f"{domain.kind} {name}: {_failures_text(domain) or 'no failures'}")
    crews = [n for n, k in built.kinds.items() if k == "crew"]
    if crews:
        notes.append("repair crews: " + ", ".join(crews))
    ax.set_title("   ".join(notes), fontsize=8.5, color="#444444")
    legend = [
        ("requests", "request"), ("to the standby", "standby"), ("replication", "replica"),
        ("link", "link"),
    ]  # fmt: skip
    used = {style for _, _, style in plan["arrows"]}
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color=styles[s]["color"], linestyle=styles[s]["linestyle"], label=label)
        for label, s in legend
        if s in used
    ]
    if handles:
        ax.legend(handles=handles, loc="lower right", fontsize=7, frameon=False,
                  bbox_to_anchor=(1.0, -0.02), ncol=len(handles))  # fmt: skip
    if path is not None:
        fig.savefig(path, dpi=130)
    return fig
