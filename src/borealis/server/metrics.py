"""Counters for /metrics, rendered as Prometheus text. Cheap to bump on hot paths (plain ints)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Metrics:
    heartbeats: int = 0
    connects: int = 0
    refusals: Counter[int] = field(default_factory=Counter)
    http_errors: Counter[int] = field(default_factory=Counter)

    def render(self, gauges: dict[str, tuple[str, dict[str, float]]]) -> str:
        lines = [
            "# HELP borealis_heartbeats_total Agent heartbeats received.",
            "# TYPE borealis_heartbeats_total counter",
            f"borealis_heartbeats_total {self.heartbeats}",
            "# HELP borealis_agent_connects_total Agent connections accepted.",
            "# TYPE borealis_agent_connects_total counter",
            f"borealis_agent_connects_total {self.connects}",
            "# HELP borealis_agent_refusals_total Agent connections refused, by close code.",
            "# TYPE borealis_agent_refusals_total counter",
        ]
        lines += [
            f'borealis_agent_refusals_total{{code="{c}"}} {n}' for c, n in sorted(self.refusals.items())
        ]
        lines += [
            "# HELP borealis_http_errors_total API error responses, by status.",
            "# TYPE borealis_http_errors_total counter",
        ]
        lines += [
            f'borealis_http_errors_total{{status="{s}"}} {n}' for s, n in sorted(self.http_errors.items())
        ]
        for name, (help_text, series) in gauges.items():
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
            for labels, value in series.items():
                lines.append(f"{name}{labels} {value:g}")
        return "\n".join(lines) + "\n"
