// One node on the canvas: its name and type, a handle per port as its type declares them (inputs left,
// outputs right, `error` in red), its state in the run shown, and the server's problems with it.
// Plain elements but for the badges: 200 nodes drawn at once are most of opening a large workflow.
import { Badge } from "@mantine/core";
import { Handle, Position, type NodeProps } from "@xyflow/react";
import { memo } from "react";

import { inputsOf, NODE_HEIGHT, NODE_WIDTH, outputsOf, type FlowNode } from "./graph";
import { useNodeTypes } from "./nodeTypesContext";

const STATUS_COLOR: Record<string, string> = {
  succeeded: "teal",
  failed: "red",
  running: "blue",
  skipped: "gray",
  cancelled: "gray",
  timed_out: "orange",
  retrying: "yellow",
  waiting: "dark",
};

// The canvas benchmark counts each node view's renders (docs/performance.md); off unless asked for.
const COUNT_RENDERS = typeof localStorage !== "undefined" && localStorage.getItem("borealis.bench.renders") === "1";

function counted(id: string): void {
  const w = window as unknown as { nodeRenders_?: Record<string, number> };
  const counts = (w.nodeRenders_ ??= {});
  counts[id] = (counts[id] ?? 0) + 1;
}

function portTop(index: number, count: number): string {
  return `${((index + 1) / (count + 1)) * 100}%`;
}

function WorkflowNodeView({ data, selected }: NodeProps<FlowNode>) {
  const types = useNodeTypes();
  const { doc, runStatus, attempts, problems } = data;
  if (COUNT_RENDERS) counted(doc.id);
  const type = types.get(doc.type);
  const inputs = inputsOf(doc, type);
  const outputs = outputsOf(doc, type);
  const broken = (problems?.length ?? 0) > 0;
  const color = runStatus ? STATUS_COLOR[runStatus] ?? "gray" : undefined;
  return (
    <div
      className="wf-node"
      data-node-id={doc.id}
      data-status={runStatus ?? "none"}
      data-problems={problems?.length ?? 0}
      style={{
        width: NODE_WIDTH,
        minHeight: NODE_HEIGHT,
        borderRadius: 8,
        padding: "6px 10px",
        background: "var(--mantine-color-body)",
        border: `2px solid ${
          broken ? "var(--mantine-color-red-7)" : color ? `var(--mantine-color-${color}-7)` : selected ? "var(--mantine-color-blue-6)" : "var(--mantine-color-default-border)"
        }`,
        boxShadow: selected ? "0 0 0 3px var(--mantine-color-blue-2)" : undefined,
      }}
    >
      {inputs.map((port, i) => (
        <Handle key={`in-${port}`} id={port} type="target" position={Position.Left} style={{ top: portTop(i, inputs.length) }} title={`input ${port}`}>
          {inputs.length > 1 && <span className="wf-port-label wf-port-in">{port}</span>}
        </Handle>
      ))}
      <div className="wf-node-name">{doc.name || doc.id}</div>
      <div className="wf-node-row">
        <div className="wf-node-type">{type?.title ?? doc.type}</div>
        {broken && (
          <Badge size="xs" color="red" variant="filled" title={problems?.map((p) => `${p.field ?? ""} ${p.message}`).join("\n")}>
            {problems?.length} problem{problems?.length === 1 ? "" : "s"}
          </Badge>
        )}
        {!broken && runStatus && (
          <Badge size="xs" color={color} variant={runStatus === "waiting" ? "outline" : "light"} data-testid={`status-${doc.id}`}>
            {runStatus === "retrying" ? `running, retried ${attempts ?? 0}` : runStatus}
            {runStatus !== "retrying" && attempts && attempts > 1 ? ` ×${attempts}` : ""}
          </Badge>
        )}
      </div>
      {outputs.map((port, i) => (
        <Handle
          key={`out-${port}`}
          id={port}
          type="source"
          position={Position.Right}
          style={{ top: portTop(i, outputs.length), background: port === "error" ? "var(--mantine-color-red-7)" : undefined }}
          title={`output ${port}`}
        >
          {outputs.length > 1 && <span className="wf-port-label wf-port-out">{port}</span>}
        </Handle>
      ))}
    </div>
  );
}

export const WorkflowNode = memo(WorkflowNodeView);
