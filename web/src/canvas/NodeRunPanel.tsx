// What one node did in the run shown: every attempt with its status, timings and error, its input and
// output items as a table and as JSON, and for agent nodes a link to the job with every agent's row.
import { Alert, Anchor, Badge, Box, Code, Group, SegmentedControl, Stack, Table, Text, Title } from "@mantine/core";
import { useState } from "react";
import { Link } from "react-router-dom";

import { StatusBadge } from "../components/StatusBadge";
import type { NodeRecord } from "./types";

type Ports = Record<string, { json?: unknown }[]>;

/** Items of a recorded payload: `{port: [items]}` or a list of items; a blob reference is said as such. */
function itemsOf(payload: unknown): { port: string; json: unknown }[] {
  if (Array.isArray(payload)) return payload.map((item) => ({ port: "main", json: (item as { json?: unknown })?.json ?? item }));
  if (payload && typeof payload === "object" && !("blob_ref" in payload)) {
    return Object.entries(payload as Ports).flatMap(([port, items]) =>
      Array.isArray(items) ? items.map((item) => ({ port, json: item?.json ?? item })) : [],
    );
  }
  return [];
}

export function ItemsTable({ payload, label }: { payload: unknown; label: string }) {
  const items = itemsOf(payload);
  if (payload && typeof payload === "object" && "blob_ref" in payload) {
    return <Text size="xs">Stored apart ({String((payload as { bytes?: number }).bytes ?? "?")} bytes): read it from the run's payloads.</Text>;
  }
  if (items.length === 0) return <Text size="xs" c="dimmed">No items.</Text>;
  const columns = [...new Set(items.flatMap((i) => (i.json && typeof i.json === "object" && !Array.isArray(i.json) ? Object.keys(i.json) : ["value"])))].slice(0, 8);
  return (
    <Box style={{ overflowX: "auto" }} tabIndex={0} role="region" aria-label={`${label} items`}>
      <Table fz="xs" withTableBorder striped aria-label={label}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>port</Table.Th>
            {columns.map((c) => (
              <Table.Th key={c}>{c}</Table.Th>
            ))}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {items.slice(0, 200).map((item, index) => (
            <Table.Tr key={index}>
              <Table.Td>{item.port}</Table.Td>
              {columns.map((c) => {
                const value = item.json && typeof item.json === "object" && !Array.isArray(item.json) ? (item.json as Record<string, unknown>)[c] : c === "value" ? item.json : undefined;
                const text = typeof value === "string" ? value : JSON.stringify(value);
                return (
                  <Table.Td key={c} style={{ whiteSpace: "pre-wrap", maxWidth: 260 }}>
                    {c === "job_id" && typeof value === "string" ? <Anchor component={Link} to={`/jobs/${value}`} size="xs">{value}</Anchor> : text?.slice(0, 500)}
                  </Table.Td>
                );
              })}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Box>
  );
}

export function NodeRunPanel({ nodeId, records }: { nodeId: string; records: NodeRecord[] }) {
  const [view, setView] = useState<"table" | "json">("table");
  const mine = records.filter((r) => r.node_id === nodeId).sort((a, b) => a.attempt - b.attempt);
  if (mine.length === 0) return <Text size="xs" c="dimmed" p="sm">This node did not run (yet) in this run.</Text>;
  return (
    <Stack gap="xs" p="sm" data-testid="node-run">
      <Group justify="space-between">
        <Title order={3} size="h6">
          {nodeId} in this run
        </Title>
        <SegmentedControl size="xs" value={view} onChange={(v) => setView(v as "table" | "json")} data={[{ value: "table", label: "Table" }, { value: "json", label: "JSON" }]} aria-label="Show items as" />
      </Group>
      {mine.map((record) => (
        <Stack key={record.id} gap={4}>
          <Group gap="xs">
            <Badge size="xs" variant="outline">attempt {record.attempt}</Badge>
            <StatusBadge status={record.status} />
            <Text size="xs" c="dimmed">
              {new Date(record.started_at).toLocaleTimeString()} · {record.duration_ms} ms
            </Text>
          </Group>
          {record.error && (
            <Alert color="red" p="xs" role="alert">
              {record.error}
            </Alert>
          )}
          <Text size="xs" fw={600}>Input</Text>
          {view === "table" ? <ItemsTable payload={record.input} label={`${nodeId} input`} /> : <Code block fz="xs">{JSON.stringify(record.input, null, 2)}</Code>}
          <Text size="xs" fw={600}>Output</Text>
          {view === "table" ? <ItemsTable payload={record.output} label={`${nodeId} output`} /> : <Code block fz="xs">{JSON.stringify(record.output, null, 2)}</Code>}
        </Stack>
      ))}
    </Stack>
  );
}
