// Job history, newest first, kept current by the event stream; filters by status, role, author and text.
import { Anchor, Button, Group, Select, Stack, Table, Text, TextInput } from "@mantine/core";
import { useInfiniteQuery } from "@tanstack/react-query";
import { useMemo } from "react";
import { Link, useSearchParams } from "react-router-dom";

import { api, unwrap } from "../../api/client";
import type { JobSummary, Page } from "../../api/models";
import { ActorName } from "../../components/ActorName";
import { Loading } from "../../components/Loading";
import { PageTitle } from "../../components/PageTitle";
import { ProblemAlert } from "../../components/ProblemAlert";
import { StatusBadge } from "../../components/StatusBadge";
import { formatAgo } from "../../lib/format";
import { shortId } from "../../lib/jobs";
import { useSession } from "../../lib/session";

const PAGE = 100;

function describe(job: JobSummary): string {
  const params = job.params as { language?: string; script?: string; script_id?: string; action?: string };
  if (params.script) return params.script.split("\n")[0]?.slice(0, 80) ?? "";
  if (params.script_id) return `library script ${shortId(params.script_id)}`;
  return params.action ? `action ${params.action}` : "";
}

function targetText(job: JobSummary): string {
  if (job.target.all) return "all agents";
  if (job.target.tags?.length) return `tags ${job.target.tags.join(", ")}`;
  return `${job.agent_count} agent${job.agent_count === 1 ? "" : "s"}`;
}

export default function JobsPage() {
  const { can } = useSession();
  const [params, setParams] = useSearchParams();
  const status = params.get("status") ?? "all";
  const role = params.get("role") ?? "all";
  const text = params.get("q") ?? "";
  const jobs = useInfiniteQuery({
    queryKey: ["jobs", "list"],
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }) =>
      unwrap(await api.GET("/api/v1/jobs", { params: { query: { limit: PAGE, cursor: pageParam } } })) as unknown as Page<JobSummary>,
    getNextPageParam: (last) => (last.next_cursor ? String(last.next_cursor) : undefined),
  });
  const all = useMemo(() => jobs.data?.pages.flatMap((p) => p.items) ?? [], [jobs.data]);
  const roles = useMemo(() => [...new Set(all.map((j) => j.role))].sort(), [all]);
  const needle = text.trim().toLowerCase();
  const rows = all.filter(
    (job) =>
      (status === "all" || job.status === status) &&
      (role === "all" || job.role === role) &&
      (!needle || `${job.id} ${job.created_by} ${describe(job)}`.toLowerCase().includes(needle)),
  );
  const set = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value && value !== "all") next.set(key, value);
    else next.delete(key);
    setParams(next, { replace: true });
  };

  return (
    <Stack>
      <PageTitle title="Jobs">
        {can("jobs:run") && (
          <Button component={Link} to="/run">
            Run a script
          </Button>
        )}
      </PageTitle>
      <Group align="end">
        <Select
          label="Status"
          data={["all", "queued", "running", "succeeded", "failed", "cancelled", "expired"]}
          value={status}
          onChange={(v) => set("status", v ?? "all")}
          allowDeselect={false}
          w={160}
        />
        <Select label="Role" data={["all", ...roles]} value={role} onChange={(v) => set("role", v ?? "all")} allowDeselect={false} w={160} />
        <TextInput label="Search" placeholder="id, author, script" value={text} onChange={(e) => set("q", e.currentTarget.value)} w={260} />
        <Text size="sm" c="dimmed" data-testid="jobs-count">
          {rows.length} of {all.length} loaded
        </Text>
      </Group>
      <ProblemAlert error={jobs.error} title="Jobs could not be read" />
      {jobs.isPending ? (
        <Loading />
      ) : (
        <Table.ScrollContainer minWidth={800}>
          <Table striped highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Job</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Role</Table.Th>
                <Table.Th>What</Table.Th>
                <Table.Th>Target</Table.Th>
                <Table.Th>Results</Table.Th>
                <Table.Th>By</Table.Th>
                <Table.Th>When</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((job) => (
                <Table.Tr key={job.id} data-testid="job-item">
                  <Table.Td>
                    <Anchor component={Link} to={`/jobs/${job.id}`} ff="monospace">
                      {shortId(job.id)}
                    </Anchor>
                  </Table.Td>
                  <Table.Td>
                    <StatusBadge status={job.status} />
                  </Table.Td>
                  <Table.Td>{job.role}</Table.Td>
                  <Table.Td>
                    <Text size="sm" ff="monospace" lineClamp={1}>
                      {describe(job)}
                    </Text>
                  </Table.Td>
                  <Table.Td>{targetText(job)}</Table.Td>
                  <Table.Td>
                    <Text size="sm">
                      {Object.entries(job.counts)
                        .filter(([, n]) => n > 0)
                        .map(([s, n]) => `${n} ${s}`)
                        .join(", ")}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <ActorName actor={job.created_by} />
                  </Table.Td>
                  <Table.Td>{formatAgo(job.created_at)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {jobs.hasNextPage && (
        <Group>
          <Button variant="default" onClick={() => void jobs.fetchNextPage()} loading={jobs.isFetchingNextPage}>
            Load older jobs
          </Button>
        </Group>
      )}
    </Stack>
  );
}
