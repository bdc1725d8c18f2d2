// The script library as the console reads it: the list (no bodies), one script at a version, its versions.
import { useQuery } from "@tanstack/react-query";

import { api, unwrap } from "../api/client";
import type { Page } from "../api/models";

export const LANGUAGES = ["bash", "sh", "python", "powershell", "cmd"] as const;
export const SCRIPTS_KEY = ["scripts"] as const;

export interface ScriptSummary {
  id: string;
  name: string;
  language: string;
  description: string;
  version: number;
  updated_at?: string;
  updated_by?: string;
}

export interface Script extends ScriptSummary {
  body: string;
  parameters: Record<string, unknown>;
  latest_version?: number;
  created_by?: string;
  created_at?: string;
}

export async function fetchScripts(): Promise<ScriptSummary[]> {
  const scripts: ScriptSummary[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 20; pages++) {
    const page = unwrap(
      await api.GET("/api/v1/scripts", { params: { query: { limit: 500, cursor } } }),
    ) as unknown as Page<ScriptSummary>;
    scripts.push(...page.items);
    if (!page.next_cursor) break;
    cursor = String(page.next_cursor);
  }
  return scripts;
}

export function useScripts(enabled = true) {
  return useQuery({ queryKey: SCRIPTS_KEY, queryFn: fetchScripts, enabled });
}

export async function fetchScript(id: string, version?: number): Promise<Script> {
  return unwrap(
    await api.GET("/api/v1/scripts/{script_id}", { params: { path: { script_id: id }, query: { version } } }),
  ) as unknown as Script;
}

export function useScript(id: string | null, version?: number) {
  return useQuery({
    queryKey: ["scripts", id, version ?? "latest"],
    queryFn: () => fetchScript(id as string, version),
    enabled: !!id,
  });
}
