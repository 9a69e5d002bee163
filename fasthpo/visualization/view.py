"""A job's data as the view the page draws: describe's lines as label/value pairs, best trial, figures."""

from __future__ import annotations

import time
from typing import Any

from fasthpo.visualization.figures import figures, shown


def job_view(data: dict[str, Any]) -> dict[str, Any]:
    """The JSON-ready view of one job (what the report embeds and the dashboard serves)."""
    best = data["best"]
    return {
        "title": f"fasthpo job {data['summary']['name']}",
        "summary": summary_pairs(data),
        "best": None if best is None else {
            "trial_id": best["trial_id"],
            "objective": shown(best["objective"]),
            "hyperparameters": [[k, shown(v)] for k, v in best["hyperparameters"].items()],
        },
        "trials": data["summary"]["trials"],
        "finished": sum(data["summary"]["counters"][k] for k in ("completed", "failed", "stopped")),
        "status": data["summary"]["status"],
        "figures": figures(data),
    }


def summary_pairs(data: dict[str, Any]) -> list[list[str]]:
    """The lines of ``fasthpo describe``, as (label, text) pairs."""
    s = data["summary"]
    c = s["counters"]
    budget = f" of {s['max_trials']}" if s["max_trials"] else ""
    counts = (
        f"{s['trials']}{budget}: {c['completed']} completed, {c['failed']} failed, "
        f"{c['running']} running, {c['stopped']} stopped"
        + (f", {c['pending']} pending" if c["pending"] else "")
        + (f" ({s['retries']} retried attempts)" if s["retries"] else "")
    )
    pairs = [
        ["job", f"{s['name']} ({s['status']})"],
        ["objective", f"{s['objective']['direction']} {s['objective']['metric']}"],
        ["strategy", f"{s['strategy']} (seed {s['seed']})"],
        ["trials", counts],
    ]
    if s["tuner"] is not None:
        pairs.append(["tuner", f"process {s['tuner']['pid']} on {s['tuner']['host']}"])
    elif s["status"] == "running":
        pairs.append(["tuner", "none alive (it died): `fasthpo resume` continues the job"])
    for p in data["parameters"]:
        if p.get("verdict"):
            pairs.append(["scaling", f"{p['name']}: {p['verdict']} (since trial {p['since_trial']})"])
    pairs.append(["updated", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(s["updated_at"]))])
    return pairs
