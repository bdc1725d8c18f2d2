// The workflow document as the canvas holds it: nodes and edges for @xyflow/react, back to the
// document exactly, the ports a node has, whether a connection is allowed, and an automatic layout.
import dagre from "@dagrejs/dagre";
import type { Connection, Edge, Node } from "@xyflow/react";

import type { DocEdge, DocNode, DocProblem, NodeType, WorkflowDocument } from "./types";

export interface NodeData extends Record<string, unknown> {
  doc: DocNode;
  /** The node's state in the run shown on the canvas, and how many attempts it took. */
  runStatus?: string;
  attempts?: number;
  problems?: DocProblem[];
}

export type FlowNode = Node<NodeData, "wf">;
export type FlowEdge = Edge;

export const NODE_WIDTH = 210;
export const NODE_HEIGHT = 64;

export function inputsOf(_node: DocNode, type: NodeType | undefined): string[] {
  return type ? type.inputs : ["main"];
}

/** The output ports: the type's own, and `error` when the node sends its failures there. */
export function outputsOf(node: DocNode, type: NodeType | undefined): string[] {
  const own = type ? [...type.outputs] : ["main"];
  if (node.settings?.on_error === "error_port") own.push(type?.error_port ?? "error");
  return own;
}

export function toFlow(document: WorkflowDocument): { nodes: FlowNode[]; edges: FlowEdge[] } {
  const nodes = document.nodes.map((doc, index) => ({
    id: doc.id,
    type: "wf" as const,
    position: doc.ui ? { x: doc.ui.x, y: doc.ui.y } : { x: 80 + (index % 5) * 260, y: 80 + Math.floor(index / 5) * 120 },
    data: { doc },
  }));
  const edges = document.edges.map(edgeFromDoc);
  return { nodes, edges };
}

export function edgeFromDoc(edge: DocEdge): FlowEdge {
  return {
    id: edge.id,
    source: edge.source,
    target: edge.target,
    sourceHandle: edge.source_port ?? "main",
    targetHandle: edge.target_port ?? "main",
    label: (edge.source_port ?? "main") === "main" ? undefined : edge.source_port,
  };
}

/** The document the canvas shows: positions rounded into `ui`, ports written out. */
export function toDocument(nodes: FlowNode[], edges: FlowEdge[], settings?: Record<string, unknown>): WorkflowDocument {
  const document: WorkflowDocument = {
    nodes: nodes.map((node) => ({
      ...node.data.doc,
      ui: { x: Math.round(node.position.x), y: Math.round(node.position.y) },
    })),
    edges: edges.map((edge) => ({
      id: edge.id,
      source: edge.source,
      source_port: edge.sourceHandle ?? "main",
      target: edge.target,
      target_port: edge.targetHandle ?? "main",
    })),
  };
  if (settings) document.settings = settings;
  return document;
}

/** A free id from a base (`condition`, `condition-2`, …), in the document's id alphabet. */
export function freeId(base: string, taken: Iterable<string>): string {
  const used = new Set(taken);
  const clean = base.replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 56) || "node";
  if (!used.has(clean)) return clean;
  for (let n = 2; ; n++) {
    const id = `${clean}-${n}`;
    if (!used.has(id)) return id;
  }
}

/** Why a connection is refused, or null: ports must exist, be an output into an input, no self loop,
 *  no duplicate edge, no cycle (the server refuses those too). */
export function connectionProblem(
  connection: Connection | FlowEdge,
  nodes: FlowNode[],
  edges: FlowEdge[],
  types: Map<string, NodeType>,
): string | null {
  const source = nodes.find((n) => n.id === connection.source);
  const target = nodes.find((n) => n.id === connection.target);
  if (!source || !target) return "no such node";
  if (source.id === target.id) return "a node cannot feed itself";
  const sourcePort = connection.sourceHandle ?? "main";
  const targetPort = connection.targetHandle ?? "main";
  if (!outputsOf(source.data.doc, types.get(source.data.doc.type)).includes(sourcePort)) {
    return `${source.id} has no output port ${sourcePort}`;
  }
  if (!inputsOf(target.data.doc, types.get(target.data.doc.type)).includes(targetPort)) {
    return `${target.id} has no input port ${targetPort}`;
  }
  if (
    edges.some(
      (e) =>
        e.source === source.id &&
        e.target === target.id &&
        (e.sourceHandle ?? "main") === sourcePort &&
        (e.targetHandle ?? "main") === targetPort,
    )
  ) {
    return "these ports are already connected";
  }
  // A cycle: the source is reachable from the target.
  const next = new Map<string, string[]>();
  for (const e of edges) next.set(e.source, [...(next.get(e.source) ?? []), e.target]);
  const seen = new Set<string>();
  const stack = [target.id];
  while (stack.length) {
    const id = stack.pop() as string;
    if (id === source.id) return "that would make a cycle (iterate with logic.loop)";
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...(next.get(id) ?? []));
  }
  return null;
}

/** Left-to-right layered layout (dagre); returns the nodes at their new positions. */
export function layout(nodes: FlowNode[], edges: FlowEdge[]): FlowNode[] {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "LR", nodesep: 40, ranksep: 80 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const node of nodes) g.setNode(node.id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const edge of edges) g.setEdge(edge.source, edge.target);
  dagre.layout(g);
  return nodes.map((node) => {
    const at = g.node(node.id);
    return at ? { ...node, position: { x: Math.round(at.x - NODE_WIDTH / 2), y: Math.round(at.y - NODE_HEIGHT / 2) } } : node;
  });
}

/** Default parameters from a type's schema: each property's `default`, required enums' first value. */
export function defaultParams(type: NodeType): Record<string, unknown> {
  const schema = type.schema as { properties?: Record<string, { default?: unknown; enum?: unknown[] }>; required?: string[] };
  const params: Record<string, unknown> = {};
  for (const [key, property] of Object.entries(schema.properties ?? {})) {
    if (property.default !== undefined) params[key] = property.default;
    else if (schema.required?.includes(key) && property.enum?.length) params[key] = property.enum[0];
  }
  return params;
}
