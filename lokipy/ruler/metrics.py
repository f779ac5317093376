"""The ruler's operator metrics in Prometheus text format, under Loki's names.

``exposition_lines(ruler)`` returns complete families (HELP, TYPE, samples) for the server's
``/metrics`` to append. ``rule_group`` is ``<namespace>;<group>`` like Prometheus' label.
"""

from __future__ import annotations

from lokipy.ruler.manager import Ruler


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _family(lines: list[str], name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
    lines.append(f"# HELP {name} {help_text}")
    lines.append(f"# TYPE {name} {kind}")
    for labels, value in samples:
        text = str(int(value)) if float(value).is_integer() else repr(float(value))
        lines.append(f"{name}{labels} {text}")


def exposition_lines(ruler: Ruler) -> list[str]:
    with ruler.lock:
        groups = list(ruler.groups.values())
    per_group = [
        (f'{{rule_group="{_esc(g.namespace)};{_esc(g.name)}",user="{_esc(g.tenant)}"}}', g) for g in groups
    ]
    lines: list[str] = []
    p = "loki_prometheus_"
    _family(lines, p + "rule_evaluations_total", "counter", "The total number of rule evaluations.",
            [(lb, g.evaluations) for lb, g in per_group])  # fmt: skip
    _family(lines, p + "rule_evaluation_failures_total", "counter", "The total number of rule evaluation failures.",
            [(lb, g.failures) for lb, g in per_group])  # fmt: skip
    _family(lines, p + "rule_group_iterations_missed_total", "counter",
            "The total number of rule group evaluations missed due to slow rule group evaluation.",
            [(lb, g.missed) for lb, g in per_group])  # fmt: skip
    _family(lines, p + "rule_group_last_evaluation_timestamp_seconds", "gauge",
            "The timestamp of the last rule group evaluation in seconds.",
            [(lb, g.last_evaluation_ns / 1e9) for lb, g in per_group])  # fmt: skip
    _family(lines, p + "rule_group_last_duration_seconds", "gauge",
            "The duration of the last rule group evaluation.", [(lb, g.evaluation_seconds) for lb, g in per_group])  # fmt: skip
    n = ruler.notifier
    for what, value in (("sent", n.sent if n else 0), ("dropped", n.dropped if n else 0),
                        ("errors", n.errors if n else 0)):  # fmt: skip
        _family(
            lines,
            f"{p}notifications_{what}_total",
            "counter",
            f"Total number of alerts {what}.",
            [("", value)],
        )
    rw = list(ruler.writers.items())
    for what in ("sent", "failed", "dropped"):
        _family(lines, f"lokipy_ruler_remote_write_samples_{what}_total", "counter",
                f"Recording-rule samples {what} by remote write.",
                [(f'{{remote_name="{_esc(cid)}",user="{_esc(tenant)}"}}', getattr(w, f"{what}_samples"))
                 for (tenant, cid), w in rw])  # fmt: skip
    return lines
