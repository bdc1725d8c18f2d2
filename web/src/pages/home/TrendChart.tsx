// A small line chart over the last day (uPlot, loaded with this chunk only): one series of counts.
import "uplot/dist/uPlot.min.css";

import { useComputedColorScheme } from "@mantine/core";
import { useEffect, useRef } from "react";
import uPlot from "uplot";

export interface TrendPoint {
  at: number; // epoch seconds
  value: number;
}

export default function TrendChart({ points, label, color }: { points: TrendPoint[]; label: string; color: string }) {
  const target = useRef<HTMLDivElement>(null);
  const dark = useComputedColorScheme("light") === "dark";

  useEffect(() => {
    const element = target.current;
    if (!element) return;
    const axis = { stroke: dark ? "#c1c2c5" : "#495057", grid: { stroke: dark ? "#373a40" : "#e9ecef" } };
    const plot = new uPlot(
      {
        width: Math.max(260, element.clientWidth),
        height: 140,
        legend: { show: false },
        scales: { y: { range: [0, Math.max(1, ...points.map((p) => p.value))] } },
        axes: [axis, { ...axis, size: 40 }],
        series: [{}, { label, stroke: color, width: 2, fill: `${color}22` }],
      },
      [points.map((p) => p.at), points.map((p) => p.value)],
      element,
    );
    return () => plot.destroy();
  }, [points, label, color, dark]);

  return <div ref={target} role="img" aria-label={`${label} over the last day, ${points.length} points`} />;
}
