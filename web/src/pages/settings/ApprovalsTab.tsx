// Agents that enrolled with a code that needs approval: approve (they come online) or deny.
import { Button, Group, Stack, Table, Text } from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";

import { api, unwrap } from "../../api/client";
import type { Agent, Page } from "../../api/models";
import { Loading } from "../../components/Loading";
import { ConfirmButton } from "../../components/ConfirmButton";
import { ProblemAlert } from "../../components/ProblemAlert";
import { FLEET_KEY } from "../../lib/fleet";
import { formatAgo } from "../../lib/format";
import { useSession } from "../../lib/session";

const KEY = ["agents", "pending"];

export default function ApprovalsTab() {
  const { can } = useSession();
  const client = useQueryClient();
  // Polled as well as refreshed by the fleet's events: a new enrollment is rare and must not be missed.
  const pending = useQuery({
    queryKey: KEY,
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/agents", { params: { query: { status: "pending", limit: 1000 } } })) as unknown as Page<Agent>,
    refetchInterval: 3000,
  });
  const [error, setError] = useState<unknown>(null);

  async function decide(agent: Agent, decision: "approve" | "deny") {
    setError(null);
    try {
      const path = decision === "approve" ? "/api/v1/agents/{agent_id}/approve" : "/api/v1/agents/{agent_id}/deny";
      unwrap(await api.POST(path, { params: { path: { agent_id: agent.id } } }));
      await client.invalidateQueries({ queryKey: KEY });
      await client.invalidateQueries({ queryKey: FLEET_KEY });
    } catch (e) {
      setError(e);
    }
  }

  const items = pending.data?.items ?? [];
  return (
    <Stack>
      <ProblemAlert error={error} />
      <ProblemAlert error={pending.error} title="Pending agents could not be read" />
      {pending.isPending ? (
        <Loading />
      ) : items.length === 0 ? (
        <Text>No agent is waiting for approval.</Text>
      ) : (
        <Table striped>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Hostname</Table.Th>
              <Table.Th>Agent id</Table.Th>
              <Table.Th>System</Table.Th>
              <Table.Th>Tags</Table.Th>
              <Table.Th>Enrolled</Table.Th>
              <Table.Th />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {items.map((agent) => (
              <Table.Tr key={agent.id} data-testid="pending-row">
                <Table.Td>{agent.hostname}</Table.Td>
                <Table.Td ff="monospace">{agent.id}</Table.Td>
                <Table.Td>
                  {agent.os ?? "—"} {agent.os_version ?? ""}
                </Table.Td>
                <Table.Td>{agent.tags.join(", ") || "—"}</Table.Td>
                <Table.Td>{formatAgo(agent.enrolled_at)}</Table.Td>
                <Table.Td>
                  {can("agents:write") && (
                    <Group gap="xs">
                      <Button size="xs" onClick={() => void decide(agent, "approve")} aria-label={`Approve ${agent.hostname} ${agent.id}`}>
                        Approve
                      </Button>
                      <ConfirmButton
                        size="xs"
                        aria-label={`Deny ${agent.hostname} ${agent.id}`}
                        title={`Deny ${agent.hostname}?`}
                        message="The agent is refused and removed; it must enroll again to be considered."
                        confirmLabel="Deny"
                        onConfirm={() => decide(agent, "deny")}
                      >
                        Deny
                      </ConfirmButton>
                    </Group>
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Stack>
  );
}
