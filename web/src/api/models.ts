// Shapes of the responses the console reads. Routes without a response model are typed
// `{[key: string]: unknown}` in schema.d.ts; these views narrow them in one place. When a route gains a
// response model, replace its view here by `components["schemas"][...]` and the compiler finds the rest.
import type { components } from "./schema";

export type AgentStatus = components["schemas"]["AgentStatus"];

export interface Agent {
  id: string;
  hostname: string;
  status: AgentStatus;
  last_seen: string | null;
  connected_since: string | null;
  os: string | null;
  os_version: string | null;
  arch: string | null;
  tags: string[];
  version: string | null;
  notes: string | null;
  enrolled_at: string | null;
  revoked_at: string | null;
  agent_rss_bytes: number | null;
  agent_cpu_pct: number | null;
  facts?: Record<string, unknown>;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | number | null;
}

export interface Me {
  kind: string;
  name: string;
  scopes: string[];
}

export interface InventorySection {
  data: unknown;
  hash?: string;
  collected_at: string | null;
  received_at: string | null;
  error: string | null;
}

export interface Inventory {
  agent_id: string;
  sections: Record<string, InventorySection>;
}

export interface InventoryChange {
  id: number;
  at: string;
  section: string;
  kind: string;
  subject: string;
  before: unknown;
  after: unknown;
}

export interface JobSummary {
  id: string;
  status: string;
  counts: Record<string, number>;
  role: string;
  params: Record<string, unknown>;
  target: { agents?: string[] | null; tags?: string[] | null; all?: boolean | null };
  created_by: string;
  created_at: string;
  agent_count: number;
}

export type MetricSample = components["schemas"]["MetricSample"];
export type AgentMetrics = components["schemas"]["AgentMetrics"];
