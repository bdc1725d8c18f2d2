// A workflow's runs, newest first, filtered by status: open one on the canvas, re-run it with the same
// input, cancel one still going.
import { Anchor, Button, Group, Select, Stack, Table, Text } from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate, useParams, useSearchParams } from "react-router-dom";

import { api, unwrap } from "../../api/client";
import { FINAL } from "../../canvas/runOverlay";
import type { Run } from "../../canvas/types";
import { Loading } from "../../components/Loading";
import { PageTitle } from "../../components/PageTitle";
import { ProblemAlert } from "../../components/ProblemAlert";
import { StatusBadge } from "../../components/StatusBadge";
import { formatAgo } from "../../lib/format";
import { useSession } from "../../lib/session";
import { notify } from "../../canvas/notify";

const STATUSES = ["all", "queued", "running", "succeeded", "failed", "timed_out", "cancelled", "interrupted"];

export default function WorkflowRunsPage() {
  const { id = "" } = useParams();
  const { can } = useSession();
  const client = useQueryClient();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const status = params.get("status") ?? "all";
  const runs = useQuery({
    queryKey: ["runs", "list", id, status],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/runs", { params: { query: { workflow_id: id, status: status === "all" ? undefined : status, limit: 200 } } }),
      ) as unknown as { items: Run[] },
  });
  const rerun = async (run: Run) => {
    try {
      const made = unwrap(
        await api.POST("/api/v1/workflows/{workflow_id}/runs", {
          params: { path: { workflow_id: id } },
          body: { input: ((run.input as unknown[] | null) ?? []).map((item) => (item as { json?: unknown })?.json ?? item) as never, node_id: (run.trigger as { node_id?: string }).node_id },
        }),
      ) as unknown as Run;
      navigate(`/workflows/${id}?run=${made.id}`);
    } catch (error) {
      notify("red", error instanceof Error ? error.message : String(error));
    }
  };
  return (
    <Stack>
      <PageTitle title="Runs">
        <Anchor component={Link} to={`/workflows/${id}`}>
          Back to the workflow
        </Anchor>
      </PageTitle>
      <Group>
        <Select
          label="Status"
          data={STATUSES}
          value={status}
          onChange={(value) => setParams(value && value !== "all" ? { status: value } : {}, { replace: true })}
          allowDeselect={false}
          w={200}
        />
      </Group>
      <ProblemAlert error={runs.error} />
      {runs.isPending && <Loading />}
      {runs.data && runs.data.items.length === 0 && <Text c="dimmed">No runs.</Text>}
      {runs.data && runs.data.items.length > 0 && (
        <Table striped aria-label="Runs">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Started</Table.Th>
              <Table.Th>Status</Table.Th>
              <Table.Th>Version</Table.Th>
              <Table.Th>Trigger</Table.Th>
              <Table.Th>By</Table.Th>
              <Table.Th>Actions</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {runs.data.items.map((run) => (
              <Table.Tr key={run.id}>
                <Table.Td>
                  <Anchor component={Link} to={`/workflows/${id}?run=${run.id}`}>
                    {formatAgo(run.created_at)}
                  </Anchor>
                </Table.Td>
                <Table.Td>
                  <StatusBadge status={run.status} />
                  {run.error && <Text size="xs" c="red.8">{run.error.slice(0, 160)}</Text>}
                </Table.Td>
                <Table.Td>{run.workflow_version}</Table.Td>
                <Table.Td>{String((run.trigger as { type?: string }).type ?? "")}</Table.Td>
                <Table.Td>{run.created_by}</Table.Td>
                <Table.Td>
                  <Group gap={4}>
                    {can("workflows:write") && (
                      <Button size="compact-xs" variant="default" onClick={() => void rerun(run)}>
                        Re-run
                      </Button>
                    )}
                    {can("workflows:write") && !FINAL.has(run.status) && (
                      <Button
                        size="compact-xs"
                        variant="light"
                        color="red"
                        onClick={() =>
                          void api.POST("/api/v1/runs/{run_id}/cancel", { params: { path: { run_id: run.id } } }).then(() => client.invalidateQueries({ queryKey: ["runs"] }))
                        }
                      >
                        Cancel
                      </Button>
                    )}
                  </Group>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Stack>
  );
}
