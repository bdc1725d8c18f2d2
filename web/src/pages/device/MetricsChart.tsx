// CPU and memory of the agent over the last hours, drawn with uPlot (loaded only with this chart).
import "uplot/dist/uPlot.min.css";

import { useComputedColorScheme } from "@mantine/core";
import { useEffect, useRef } from "react";
import uPlot from "uplot";

import type { MetricSample } from "../../api/models";

export default function MetricsChart({ samples, series }: { samples: MetricSample[]; series: "cpu" | "memory" }) {
  const target = useRef<HTMLDivElement>(null);
  const dark = useComputedColorScheme("light") === "dark";

  useEffect(() => {
    const element = target.current;
    if (!element) return;
    const times = samples.map((s) => Date.parse(s.at) / 1000);
    const values = samples.map((s) => (series === "cpu" ? s.cpu_pct : s.rss_bytes / (1024 * 1024)));
    const axis = { stroke: dark ? "#c1c2c5" : "#495057", grid: { stroke: dark ? "#373a40" : "#e9ecef" } };
    const plot = new uPlot(
      {
        width: Math.max(300, element.clientWidth),
        height: 200,
        legend: { show: false },
        scales: { y: { range: series === "cpu" ? [0, Math.max(5, ...values)] : undefined } },
        axes: [axis, { ...axis, label: series === "cpu" ? "CPU %" : "MiB" }],
        series: [{}, { label: series === "cpu" ? "CPU %" : "Memory (MiB)", stroke: series === "cpu" ? "#1c7ed6" : "#0ca678", width: 2 }],
      },
      [times, values],
      element,
    );
    return () => plot.destroy();
  }, [samples, series, dark]);

  return <div ref={target} role="img" aria-label={`${series === "cpu" ? "CPU" : "Memory"} over time, ${samples.length} samples`} />;
}
