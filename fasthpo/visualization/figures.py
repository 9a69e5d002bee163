"""The report's figures as Plotly JSON (plain dicts): job data in, ``{id, title, caption, data, layout}`` out.

Figures are written as Plotly's JSON schema directly rather than through
``plotly.graph_objects``, whose validation costs seconds on 10,000 trials;
the page hands them to plotly.js as they are. Every piece of text that comes
from the job (names, categorical values, errors) is HTML-escaped here, since
plotly.js reads a few HTML tags in its strings; it shows the entities as the
characters they stand for.
"""

from __future__ import annotations

import html
import math
from typing import Any

from fasthpo.visualization.importance import importance
from fasthpo.visualization.thinning import points_per_curve, thin

#: Above this many points a trace is drawn with WebGL (``scattergl``): thousands of SVG markers,
#: or a line of tens of thousands of points, cost seconds to lay out; a canvas costs milliseconds.
WEBGL_ABOVE = 2_000
#: How many of the best trials the parallel-coordinates view draws.
PARALLEL_BEST = 30

BLUE, RED, ORANGE, GREY, GREEN = "#1f77b4", "#d62728", "#ff7f0e", "#9aa0a6", "#2ca02c"


def escape(value: Any) -> str:
    """Job-provided text, safe inside a plotly.js string."""
    return html.escape(str(value), quote=False)  # no tag survives, so quotes need no escaping


def shown(value: Any) -> str:
    """A hyperparameter value as the page prints it."""
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _scatter(points: int) -> str:
    """The trace type for a marker trace of ``points`` points."""
    return "scattergl" if points > WEBGL_ABOVE else "scatter"


def figures(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Every figure of a job's report, in the order the page shows them."""
    out = [_convergence(data), _timeline(data)]
    out += [_parameter_scatter(data, i, p) for i, p in enumerate(data["parameters"])]
    out += [_importance(data), _parallel(data), _curves(data)]
    if data["instance_finals"]:
        out.append(_instances(data))
    return out


def _figure(
    fid: str, title: str, caption: str, traces: list[dict[str, Any]], **layout: Any
) -> dict[str, Any]:
    base = {
        "height": 340, "margin": {"l": 60, "r": 20, "t": 10, "b": 50},
        "showlegend": True, "legend": {"orientation": "h", "y": -0.25},
        "hovermode": "closest", "template": {"layout": {"plot_bgcolor": "#fafafa"}},
    }
    return {"id": fid, "title": title, "caption": caption, "data": traces, "layout": base | layout}


def _metric(data: dict[str, Any]) -> str:
    return escape(data["summary"]["objective"]["metric"])


def _minimize(data: dict[str, Any]) -> bool:
    return bool(data["summary"]["objective"]["direction"] == "minimize")


def _baseline(data: dict[str, Any]) -> float:
    """Where trials without an objective are drawn: just past the worst objective."""
    values = [t["objective"] for t in data["trials"] if t["objective"] is not None]
    if not values:
        return 0.0
    low, high = min(values), max(values)
    pad = (high - low) * 0.05 or abs(high) * 0.05 or 1.0
    return high + pad if _minimize(data) else low - pad


def _convergence(data: dict[str, Any]) -> dict[str, Any]:
    trials, metric = data["trials"], _metric(data)
    done = [t for t in trials if t["objective"] is not None and t["status"] == "completed"]
    stopped = [t for t in trials if t["objective"] is not None and t["status"] == "stopped"]
    failed = [t for t in trials if t["objective"] is None and t["status"] in ("completed", "failed")]
    halted = [t for t in trials if t["objective"] is None and t["status"] == "stopped"]
    best_x, best_y, best = [], [], None
    pick = min if _minimize(data) else max
    for t in done:
        best = t["objective"] if best is None else pick(best, t["objective"])
        best_x.append(t["id"])
        best_y.append(best)
    baseline = _baseline(data)
    traces = [
        _markers("completed", done, BLUE, "circle"),
        {"type": "scatter", "mode": "lines", "name": "best so far", "x": best_x, "y": best_y,
         "line": {"color": RED, "shape": "hv", "width": 2}, "hoverinfo": "skip"},
        _markers("stopped early", stopped, ORANGE, "diamond"),
        _missing("failed / no objective", failed, baseline, RED),
        _missing("stopped, no objective", halted, baseline, ORANGE),
    ]
    caption = (
        f"{metric} of each trial by trial id, and the best so far "
        f"({data['summary']['objective']['direction']}). Trials without an objective (failed, no value "
        "reported, or stopped before one) are the crosses drawn past the worst value."
    )
    return _figure("convergence", "Convergence", caption, traces,
                   xaxis={"title": {"text": "trial"}}, yaxis={"title": {"text": metric}})


def _missing(name: str, trials: list[dict[str, Any]], baseline: float, color: str) -> dict[str, Any]:
    """Trials without an objective, as crosses at ``baseline`` (hover: why)."""
    return {
        "type": _scatter(len(trials)), "mode": "markers", "name": name,
        "x": [t["id"] for t in trials], "y": [baseline] * len(trials),
        "marker": {"color": color, "symbol": "x", "size": 8},
        "text": [escape(f"trial {t['id']} {t['status']}: {t['error'] or 'no objective'}") for t in trials],
        "hoverinfo": "text",
    }


def _markers(name: str, trials: list[dict[str, Any]], color: str, symbol: str) -> dict[str, Any]:
    return {
        "type": _scatter(len(trials)), "mode": "markers", "name": name,
        "x": [t["id"] for t in trials], "y": [t["objective"] for t in trials],
        "marker": {"color": color, "symbol": symbol, "size": 6, "opacity": 0.8},
        "text": [f"trial {t['id']}" for t in trials], "hoverinfo": "text+y",
    }


def _timeline(data: dict[str, Any]) -> dict[str, Any]:
    """Each trial as a bar from its start to its end: overlapping bars ran in parallel."""
    started = [t for t in data["trials"] if t["started_at"] is not None]
    origin = min((t["started_at"] for t in started), default=0.0)
    traces = []
    colors = {"completed": BLUE, "stopped": ORANGE, "failed": RED, "running": GREEN, "pending": GREY}
    for status, color in colors.items():
        xs: list[float | None] = []
        ys: list[int | None] = []
        for t in started:
            if t["status"] != status:
                continue
            end = t["ended_at"] if t["ended_at"] is not None else data["summary"]["updated_at"]
            xs += [t["started_at"] - origin, max(end, t["started_at"]) - origin, None]
            ys += [t["id"], t["id"], None]
        if xs:
            traces.append({"type": _scatter(len(xs)), "mode": "lines", "name": status, "x": xs, "y": ys,
                           "line": {"color": color, "width": 4}, "hoverinfo": "y"})
    caption = (
        "Each trial from its start to its end (seconds since the first start); trials whose bars overlap "
        "ran in parallel."
    )
    return _figure("timeline", "Trials over time", caption, traces,
                   xaxis={"title": {"text": "seconds since the first trial started"}},
                   yaxis={"title": {"text": "trial"}})


def _parameter_scatter(data: dict[str, Any], index: int, p: dict[str, Any]) -> dict[str, Any]:
    name, metric = escape(p["name"]), _metric(data)
    done = [t for t in data["trials"] if t["objective"] is not None]
    xs = [_axis_value(p, t["hyperparameters"].get(p["name"])) for t in done]
    traces = [{
        "type": _scatter(len(xs)), "mode": "markers", "name": "trials", "x": xs,
        "y": [t["objective"] for t in done],
        "marker": {"color": BLUE, "size": 6, "opacity": 0.7},
        "text": [f"trial {t['id']}" for t in done], "hoverinfo": "text+x+y",
    }]
    best = data["best"]
    if best is not None:
        traces.append({
            "type": "scatter", "mode": "markers", "name": f"best (trial {best['trial_id']})",
            "x": [_axis_value(p, best["hyperparameters"].get(p["name"]))], "y": [best["objective"]],
            "marker": {"color": RED, "symbol": "star", "size": 14},
        })
    xaxis: dict[str, Any] = {"title": {"text": name}, "type": p["scale"]}
    if p["scale"] == "category":
        xaxis.update(categoryorder="array", categoryarray=[escape(v) for v in p["values"]])
    return _figure(f"param-{index}", f"{p['name']} against {data['summary']['objective']['metric']}",
                   _scale_caption(p), traces, xaxis=xaxis, yaxis={"title": {"text": metric}},
                   showlegend=False)


def _axis_value(p: dict[str, Any], value: Any) -> Any:
    return escape(value) if p["scale"] == "category" else value


def _scale_caption(p: dict[str, Any]) -> str:
    """Which axis scale the parameter is drawn on, and why (with the verdict's evidence)."""
    if p["scale"] == "category":
        return f"categorical: {len(p['values'])} values"
    text = f"{p['scale']} axis — {p['reason']}"
    evidence = p.get("evidence")
    if evidence:
        text += "; evidence: " + ", ".join(f"{k} = {shown(v)}" for k, v in evidence.items())
    return text


def _importance(data: dict[str, Any]) -> dict[str, Any]:
    shares = importance(data["parameters"], data["trials"])
    ordered = sorted(shares, key=shares.__getitem__)
    traces = [{
        "type": "bar", "orientation": "h", "name": "importance",
        "x": [shares[n] for n in ordered], "y": [escape(n) for n in ordered],
        "marker": {"color": BLUE}, "hoverinfo": "x+y",
    }]
    caption = (
        "Share of the objective's variance (on its ranks) that each hyperparameter explains alone: "
        "fANOVA-style first-order effects from binned trials, minus the share chance alone gives."
        if shares else "Not enough completed trials yet to measure importance."
    )
    return _figure("importance", "Importance", caption, traces, showlegend=False,
                   height=max(200, 60 + 30 * len(ordered)),
                   xaxis={"title": {"text": "share of variance explained alone"}, "rangemode": "tozero"},
                   yaxis={"automargin": True})


def _parallel(data: dict[str, Any]) -> dict[str, Any]:
    """The best trials across every hyperparameter and the objective, each axis scaled to [0, 1]."""
    params = data["parameters"]
    done = sorted((t for t in data["trials"] if t["objective"] is not None),
                  key=lambda t: t["objective"], reverse=not _minimize(data))[:PARALLEL_BEST]
    objectives = [t["objective"] for t in done]
    low, high = (min(objectives), max(objectives)) if done else (0.0, 1.0)
    axes = [escape(p["name"]) for p in params] + [_metric(data)]
    traces = []
    for rank, t in enumerate(reversed(done)):  # the best drawn last, on top
        ys = [_unit(p, t["hyperparameters"].get(p["name"])) for p in params]
        ys.append(0.5 if high == low else (t["objective"] - low) / (high - low))
        share = rank / max(len(done) - 1, 1)
        traces.append({
            "type": "scatter", "mode": "lines+markers", "x": list(range(len(axes))), "y": ys,
            "line": {"color": _blend(share), "width": 3 if rank == len(done) - 1 else 1.5},
            "name": f"trial {t['id']}", "showlegend": False,
            "text": [f"trial {t['id']}: {escape(_value_label(p, t['hyperparameters'].get(p['name'])))}"
                     for p in params] + [f"trial {t['id']}: {shown(t['objective'])}"],
            "hoverinfo": "text",
        })
    annotations = []
    for i, p in enumerate(params):
        for y, label in _axis_labels(p):
            annotations.append({"x": i, "y": y, "text": escape(label), "showarrow": False,
                                "xanchor": "left", "xshift": 4, "font": {"size": 10}})
    if done:
        annotations += [
            {"x": len(params), "y": 0, "text": shown(low), "showarrow": False, "xanchor": "left",
             "xshift": 4, "font": {"size": 10}},
            {"x": len(params), "y": 1, "text": shown(high), "showarrow": False, "xanchor": "left",
             "xshift": 4, "font": {"size": 10}},
        ]
    caption = (
        f"The {len(done)} best trials (darkest red: the best), each hyperparameter on its own axis "
        "scaled from its range's low end (0) to its high end (1), in the scale the report plots it in."
    )
    return _figure("parallel", "Best trials across hyperparameters", caption, traces,
                   showlegend=False, annotations=annotations,
                   xaxis={"tickmode": "array", "tickvals": list(range(len(axes))), "ticktext": axes,
                          "range": [-0.3, len(axes) - 0.4]},
                   yaxis={"range": [-0.08, 1.08], "showticklabels": False, "zeroline": False})


def _unit(p: dict[str, Any], value: Any) -> float | None:
    """A value on [0, 1] along its parameter's range, in the parameter's plotted scale."""
    if p["scale"] == "category":
        values = [str(v) for v in p["values"]]
        if str(value) not in values:
            return None
        return 0.5 if len(values) == 1 else values.index(str(value)) / (len(values) - 1)
    try:
        x, low, high = float(value), float(p["low"]), float(p["high"])
    except (TypeError, ValueError):
        return None
    if p["scale"] == "log" and min(x, low, high) > 0:
        x, low, high = math.log(x), math.log(low), math.log(high)
    return 0.5 if high == low else (x - low) / (high - low)


def _value_label(p: dict[str, Any], value: Any) -> str:
    return f"{p['name']} = {shown(value)}"


def _axis_labels(p: dict[str, Any]) -> list[tuple[float, str]]:
    if p["scale"] == "category":
        values = [str(v) for v in p["values"]]
        if len(values) > 8:
            values = [values[0], values[-1]]
            return [(0.0, values[0]), (1.0, values[1])]
        return [(0.5 if len(values) == 1 else i / (len(values) - 1), v) for i, v in enumerate(values)]
    return [(0.0, shown(p["low"])), (1.0, shown(p["high"]))]


def _blend(share: float) -> str:
    """Grey-blue (share 0) to red (share 1)."""
    a, b = (158, 188, 218), (214, 39, 40)
    r, g, bl = (round(x + (y - x) * share) for x, y in zip(a, b, strict=True))
    return f"rgb({r},{g},{bl})"


def _curves(data: dict[str, Any]) -> dict[str, Any]:
    curves, metric = data["curves"], _metric(data)
    status = {t["id"]: t["status"] for t in data["trials"]}
    keep = points_per_curve(len(curves))
    xs: list[int | None] = []
    ys: list[float | None] = []
    texts: list[str] = []
    thinned = 0
    for c in curves:
        steps, values = thin(c["steps"], c["values"], keep, minimize=_minimize(data))
        thinned += len(steps) < len(c["steps"])
        xs += [*steps, None]
        ys += [*values, None]
        texts += [f"trial {c['trial']}"] * len(steps) + [""]
    traces: list[dict[str, Any]] = [{
        "type": _scatter(len(xs)), "mode": "lines", "name": "trials", "x": xs, "y": ys, "text": texts,
        "line": {"color": BLUE, "width": 1}, "opacity": 0.5, "hoverinfo": "text+x+y",
    }]
    best = data["best"]
    for c in curves:
        if best is not None and c["trial"] == best["trial_id"]:
            traces.append({"type": "scatter", "mode": "lines", "name": f"best (trial {c['trial']})",
                           "x": c["steps"], "y": c["values"], "line": {"color": RED, "width": 3}})
    stopped = [c for c in curves if status.get(c["trial"]) == "stopped"]
    traces.append({
        "type": _scatter(len(stopped)), "mode": "markers", "name": "stopped here",
        "x": [c["steps"][-1] for c in stopped], "y": [c["values"][-1] for c in stopped],
        "text": [f"trial {c['trial']} stopped at step {c['steps'][-1]}" for c in stopped],
        "marker": {"color": ORANGE, "symbol": "x-thin-open", "size": 10, "line": {"width": 2}},
        "hoverinfo": "text+y",
    })
    caption = (
        f"{metric} as each trial reported it by step ({len(curves)} trials reported steps). "
        "Trials stopped early are marked at the step they were stopped."
        if curves else "No trial reported intermediate values (reports with a step)."
    )
    if thinned:
        caption += (
            f" {thinned} long curves are thinned to about {keep} points each (first, last and best kept)."
        )
    return _figure("curves", "Intermediate values", caption, traces,
                   xaxis={"title": {"text": "step"}}, yaxis={"title": {"text": metric}})


def _instances(data: dict[str, Any]) -> dict[str, Any]:
    finals = data["instance_finals"]
    by_instance: dict[int, list[dict[str, Any]]] = {}
    for f in finals:
        by_instance.setdefault(f["instance"], []).append(f)
    traces = [
        {"type": _scatter(len(rows)), "mode": "markers", "name": f"instance {i}",
         "x": [f["trial"] for f in rows], "y": [f["value"] for f in rows], "marker": {"size": 7}}
        for i, rows in sorted(by_instance.items())
    ]
    caption = "Each instance's last reported value of the objective metric, per multi-instance trial."
    return _figure("instances", "Per-instance final values", caption, traces,
                   xaxis={"title": {"text": "trial"}}, yaxis={"title": {"text": _metric(data)}})
