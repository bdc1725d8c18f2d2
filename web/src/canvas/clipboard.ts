// Copy and paste of nodes (and the edges between them), also between workflows: the copy is kept in
// localStorage under one key, as document JSON.
import { freeId, type FlowEdge, type FlowNode } from "./graph";
import type { DocEdge, DocNode } from "./types";

const KEY = "borealis.canvas.clipboard";

interface Copied {
  nodes: DocNode[];
  edges: DocEdge[];
}

export function copySelection(nodes: FlowNode[], edges: FlowEdge[]): number {
  const picked = nodes.filter((n) => n.selected);
  const ids = new Set(picked.map((n) => n.id));
  const copied: Copied = {
    nodes: picked.map((n) => ({ ...n.data.doc, ui: { x: Math.round(n.position.x), y: Math.round(n.position.y) } })),
    edges: edges
      .filter((e) => ids.has(e.source) && ids.has(e.target))
      .map((e) => ({ id: e.id, source: e.source, source_port: e.sourceHandle ?? "main", target: e.target, target_port: e.targetHandle ?? "main" })),
  };
  if (picked.length) localStorage.setItem(KEY, JSON.stringify(copied));
  return picked.length;
}

/** The copied nodes with ids free in this workflow, moved by `offset`, and their edges renamed to match. */
export function pasted(existingNodes: string[], existingEdges: string[], offset = 40): Copied | null {
  const text = localStorage.getItem(KEY);
  if (!text) return null;
  let copied: Copied;
  try {
    copied = JSON.parse(text) as Copied;
  } catch {
    return null;
  }
  const taken = new Set(existingNodes);
  const renamed = new Map<string, string>();
  const nodes = copied.nodes.map((node) => {
    const id = freeId(node.id, taken);
    taken.add(id);
    renamed.set(node.id, id);
    return { ...node, id, ui: { x: (node.ui?.x ?? 0) + offset, y: (node.ui?.y ?? 0) + offset } };
  });
  const edgeIds = new Set(existingEdges);
  const edges = copied.edges.map((edge) => {
    const id = freeId(edge.id, edgeIds);
    edgeIds.add(id);
    return { ...edge, id, source: renamed.get(edge.source) ?? edge.source, target: renamed.get(edge.target) ?? edge.target };
  });
  return { nodes, edges };
}
