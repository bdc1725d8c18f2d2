// "Run this node": the selected node as edited (unsaved), run alone by the server on its input in the
// last run or on pinned JSON (`POST /api/v1/workflows/{id}/nodes/{node_id}/trial`); agent nodes first
// name the agents they would run on and wait for a confirmation. The output shows under the button.
import { Alert, Badge, Button, Group, SegmentedControl, Stack, Text, Textarea } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";

import { api, apiErrorFrom, unwrap } from "../api/client";
import { StatusBadge } from "../components/StatusBadge";
import { ItemsTable } from "./NodeRunPanel";
import type { DocNode, Run } from "./types";

interface TrialAgent {
  id: string;
  hostname: string;
}

interface Outcome {
  status: string;
  items: Record<string, unknown[]>;
  error: string | null;
  duration_ms: number;
  attempts: { attempt: number; status: string; error: string | null; duration_ms: number }[];
  agents: TrialAgent[];
}

interface Asking {
  detail: string;
  agents: TrialAgent[];
  count: number;
}

const pinnedKey = (workflowId: string, nodeId: string) => `borealis.pinned.${workflowId}.${nodeId}`;

/** Pinned JSON → the trial's items: an object is one item, a list is the items. */
function pinnedItems(text: string): unknown[] {
  const value: unknown = JSON.parse(text);
  return Array.isArray(value) ? value : [value];
}

function asPorts(items: Record<string, unknown[]>): Record<string, { json: unknown }[]> {
  return Object.fromEntries(Object.entries(items).map(([port, list]) => [port, list.map((json) => ({ json }))]));
}

export function NodeTrial({ workflowId, node, shownRunId, isAgentNode }: { workflowId: string; node: DocNode; shownRunId: string | null; isAgentNode: boolean }) {
  const lastRun = useQuery({
    queryKey: ["runs", "last", workflowId],
    queryFn: async () => {
      const page = unwrap(await api.GET("/api/v1/runs", { params: { query: { workflow_id: workflowId, limit: 1 } } })) as unknown as { items: Run[] };
      return page.items[0] ?? null;
    },
    enabled: shownRunId === null,
  });
  const runId = shownRunId ?? lastRun.data?.id ?? null;
  const [source, setSource] = useState<string>("auto");
  const [pinned, setPinned] = useState(() => localStorage.getItem(pinnedKey(workflowId, node.id)) ?? "{}");
  const [pinError, setPinError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [asking, setAsking] = useState<Asking | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const fromRun = source !== "pinned" && runId !== null;

  const go = async (confirm: boolean) => {
    setFailure(null);
    setAsking(null);
    let input: { from_run: string } | { items: unknown[] };
    if (fromRun) input = { from_run: runId };
    else {
      try {
        input = { items: pinnedItems(pinned) };
        localStorage.setItem(pinnedKey(workflowId, node.id), pinned);
        setPinError(null);
      } catch {
        setPinError("Not JSON: give an object (one item) or a list of items");
        return;
      }
    }
    setBusy(true);
    try {
      const result = await api.POST("/api/v1/workflows/{workflow_id}/nodes/{node_id}/trial", {
        params: { path: { workflow_id: workflowId, node_id: node.id } },
        body: { node: node as never, input, confirm },
      });
      if (result.response.status === 409 && result.error) {
        const problem = result.error as unknown as { detail?: string; agents?: TrialAgent[]; agent_count?: number };
        if (Array.isArray(problem.agents)) {
          setAsking({ detail: String(problem.detail ?? ""), agents: problem.agents, count: problem.agent_count ?? problem.agents.length });
          return;
        }
      }
      if (result.error || !result.data) throw apiErrorFrom(result.response.status, result.error);
      setOutcome(result.data as unknown as Outcome);
    } catch (error) {
      setFailure(error instanceof Error ? error.message : String(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Stack gap={6} data-testid="node-trial">
      <Text size="xs" c="dimmed">
        Runs this node alone, as edited here (no need to save), on the input it had in a run or on data you pin. Nothing is recorded as a run.
      </Text>
      <SegmentedControl
        size="xs"
        value={fromRun ? "run" : "pinned"}
        onChange={setSource}
        aria-label="Input for the node"
        data={[
          { value: "run", label: runId ? `Input in run …${runId.slice(-6)}` : "Input in the last run (none yet)", disabled: runId === null },
          { value: "pinned", label: "Pinned data" },
        ]}
      />
      {!fromRun && (
        <Textarea
          label="Pinned input (JSON: an object, or a list of items)"
          size="xs"
          autosize
          minRows={3}
          maxRows={12}
          value={pinned}
          onChange={(e) => setPinned(e.currentTarget.value)}
          error={pinError}
          styles={{ input: { fontFamily: "var(--mantine-font-family-monospace)" } }}
        />
      )}
      <Group gap="xs">
        <Button size="xs" variant="light" loading={busy} onClick={() => void go(false)}>
          Run this node
        </Button>
        {isAgentNode && <Text size="xs" c="dimmed">asks before it runs on agents</Text>}
      </Group>
      {asking && (
        <Alert color="orange" p="xs" title={`Run on ${asking.count} agent${asking.count === 1 ? "" : "s"}?`} data-testid="trial-confirm">
          <Stack gap={6}>
            <Text size="xs">{asking.detail}</Text>
            <Group gap={4}>
              {asking.agents.slice(0, 20).map((agent) => (
                <Badge key={agent.id} size="xs" variant="outline" color="dark">
                  {agent.hostname}
                </Badge>
              ))}
            </Group>
            <Group gap="xs">
              <Button size="compact-xs" color="orange" onClick={() => void go(true)}>
                Run on {asking.count} agent{asking.count === 1 ? "" : "s"}
              </Button>
              <Button size="compact-xs" variant="default" onClick={() => setAsking(null)}>
                Cancel
              </Button>
            </Group>
          </Stack>
        </Alert>
      )}
      {failure && (
        <Alert color="red" p="xs" role="alert" title="The trial was refused">
          {failure}
        </Alert>
      )}
      {outcome && (
        <Stack gap={4} data-testid="trial-result" data-status={outcome.status}>
          <Group gap="xs">
            <Text size="xs" fw={600}>Output</Text>
            <StatusBadge status={outcome.status} />
            <Text size="xs" c="dimmed">
              {outcome.duration_ms} ms · {outcome.attempts.length} attempt{outcome.attempts.length === 1 ? "" : "s"}
            </Text>
          </Group>
          {outcome.error && (
            <Alert color="red" p="xs">
              {outcome.error}
            </Alert>
          )}
          <ItemsTable payload={asPorts(outcome.items)} label={`${node.id} trial output`} />
        </Stack>
      )}
    </Stack>
  );
}
