// The audit log, newest first, with filters by action, actor, target and time; older pages on demand.
import { Button, Code, Group, Stack, Table, Text, TextInput } from "@mantine/core";
import { useInfiniteQuery } from "@tanstack/react-query";
import { useState } from "react";

import { api, unwrap } from "../../api/client";
import type { Page } from "../../api/models";
import { Loading } from "../../components/Loading";
import { ProblemAlert } from "../../components/ProblemAlert";

interface Entry {
  id: number;
  at: string;
  actor: string;
  actor_name: string | null;
  action: string;
  target: string | null;
  detail: Record<string, unknown> | null;
  ip: string | null;
}

export default function AuditTab() {
  const [action, setAction] = useState("");
  const [actor, setActor] = useState("");
  const [target, setTarget] = useState("");
  const [since, setSince] = useState("");
  const [applied, setApplied] = useState({ action: "", actor: "", target: "", since: "" });
  const sinceError = applied.since && Number.isNaN(Date.parse(applied.since)) ? "A date such as 2026-01-31 or 2026-01-31T12:00" : null;
  const log = useInfiniteQuery({
    queryKey: ["audit", applied],
    enabled: !sinceError,
    initialPageParam: undefined as number | undefined,
    queryFn: async ({ pageParam }) =>
      unwrap(
        await api.GET("/api/v1/audit", {
          params: {
            query: {
              limit: 100,
              cursor: pageParam,
              action: applied.action || undefined,
              actor: applied.actor || undefined,
              target: applied.target || undefined,
              since: applied.since ? new Date(applied.since).toISOString() : undefined,
            },
          },
        }),
      ) as unknown as Page<Entry>,
    getNextPageParam: (last) => (last.next_cursor ? Number(last.next_cursor) : undefined),
  });
  const rows = log.data?.pages.flatMap((p) => p.items) ?? [];

  return (
    <Stack>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setApplied({ action: action.trim(), actor: actor.trim(), target: target.trim(), since: since.trim() });
        }}
      >
        <Group align="start">
          <TextInput label="Action" placeholder="token.create" value={action} onChange={(e) => setAction(e.currentTarget.value)} maxLength={64} />
          <TextInput label="Actor" placeholder="user:<id> or token:<id>" value={actor} onChange={(e) => setActor(e.currentTarget.value)} maxLength={160} />
          <TextInput label="Target" value={target} onChange={(e) => setTarget(e.currentTarget.value)} maxLength={160} />
          <TextInput label="Since" placeholder="2026-01-31" value={since} onChange={(e) => setSince(e.currentTarget.value)} error={sinceError} />
          <Button type="submit" mt={25}>
            Filter
          </Button>
        </Group>
      </form>
      <ProblemAlert error={log.error} title="The audit log could not be read" />
      {log.isPending && !sinceError ? (
        <Loading />
      ) : (
        <Table striped>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>When</Table.Th>
              <Table.Th>Actor</Table.Th>
              <Table.Th>Action</Table.Th>
              <Table.Th>Target</Table.Th>
              <Table.Th>Detail</Table.Th>
              <Table.Th>Address</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.map((entry) => (
              <Table.Tr key={entry.id} data-testid="audit-row" data-action={entry.action}>
                <Table.Td>{new Date(entry.at).toLocaleString()}</Table.Td>
                <Table.Td title={entry.actor}>
                  {entry.actor_name ?? entry.actor}
                  {entry.actor_name && <Text size="xs" c="dimmed" ff="monospace">{entry.actor}</Text>}
                </Table.Td>
                <Table.Td>{entry.action}</Table.Td>
                <Table.Td ff="monospace">{entry.target ?? "—"}</Table.Td>
                <Table.Td>{entry.detail && Object.keys(entry.detail).length ? <Code>{JSON.stringify(entry.detail)}</Code> : "—"}</Table.Td>
                <Table.Td>{entry.ip ?? "—"}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {log.hasNextPage && (
        <Group>
          <Button variant="default" onClick={() => void log.fetchNextPage()} loading={log.isFetchingNextPage}>
            Older entries
          </Button>
        </Group>
      )}
    </Stack>
  );
}
