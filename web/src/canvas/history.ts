// Undo and redo over the canvas's graph: snapshots of nodes and edges (without run overlays), at most
// LIMIT deep; a new change clears what could be redone.
import type { FlowEdge, FlowNode } from "./graph";

export interface Snapshot {
  nodes: FlowNode[];
  edges: FlowEdge[];
}

export interface History {
  past: Snapshot[];
  future: Snapshot[];
}

const LIMIT = 200;

export function emptyHistory(): History {
  return { past: [], future: [] };
}

/** A snapshot free of what the canvas adds (selection, run states, problems, measured sizes). */
export function snapshot(nodes: FlowNode[], edges: FlowEdge[]): Snapshot {
  return {
    nodes: nodes.map((n) => ({ id: n.id, type: n.type, position: { ...n.position }, data: { doc: n.data.doc } })),
    edges: edges.map((e) => ({ id: e.id, source: e.source, target: e.target, sourceHandle: e.sourceHandle, targetHandle: e.targetHandle, label: e.label })),
  };
}

export function record(history: History, before: Snapshot): History {
  return { past: [...history.past.slice(-(LIMIT - 1)), before], future: [] };
}

export function undo(history: History, current: Snapshot): { history: History; shown: Snapshot } | null {
  const previous = history.past[history.past.length - 1];
  if (!previous) return null;
  return { history: { past: history.past.slice(0, -1), future: [current, ...history.future] }, shown: previous };
}

export function redo(history: History, current: Snapshot): { history: History; shown: Snapshot } | null {
  const next = history.future[0];
  if (!next) return null;
  return { history: { past: [...history.past, current], future: history.future.slice(1) }, shown: next };
}
