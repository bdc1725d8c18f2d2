// The workflow document, the node catalog and runs as the server sends them (their routes answer
// plain JSON objects, so these views are written here; see docs/workflows.md).

export interface NodeType {
  type: string;
  version: number;
  category: string;
  title: string;
  doc: string;
  inputs: string[];
  outputs: string[];
  error_port: string;
  schema: Record<string, unknown>;
}

export interface NodeSettings {
  retries?: number;
  retry_backoff_s?: number;
  timeout_s?: number;
  on_error?: "stop" | "continue" | "error_port";
}

export interface DocNode {
  id: string;
  type: string;
  version?: number;
  name?: string;
  params: Record<string, unknown>;
  settings?: NodeSettings;
  ui?: { x: number; y: number };
}

export interface DocEdge {
  id: string;
  source: string;
  source_port?: string;
  target: string;
  target_port?: string;
}

export interface WorkflowDocument {
  nodes: DocNode[];
  edges: DocEdge[];
  settings?: Record<string, unknown>;
}

export interface Workflow {
  id: string;
  name: string;
  description: string;
  version: number;
  enabled: boolean;
  document: WorkflowDocument;
  created_by: string;
  created_at: string;
  updated_by: string | null;
  updated_at: string;
  hooks?: Record<string, string>;
}

export type WorkflowSummary = Omit<Workflow, "document">;

export interface Run {
  id: string;
  workflow_id: string;
  workflow_version: number;
  status: string;
  trigger: Record<string, unknown>;
  input: unknown;
  output: unknown;
  error: string | null;
  created_by: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface NodeRecord {
  id: string;
  node_id: string;
  node_type: string;
  attempt: number;
  status: string;
  input: unknown;
  output: unknown;
  error: string | null;
  started_at: string;
  finished_at: string;
  duration_ms: number;
}

export type RunDetail = Run & { nodes: NodeRecord[] };

/** The file the list exports and imports (the same shape as `borealis workflow export`). */
export interface WorkflowFile {
  borealis_workflow: number;
  name: string;
  description: string;
  version?: number;
  document: WorkflowDocument;
}

/** One problem the server found in a document (the 400's `errors`). */
export interface DocProblem {
  node: string | null;
  edge: string | null;
  field: string | null;
  message: string;
}
