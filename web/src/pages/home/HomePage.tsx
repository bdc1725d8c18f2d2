// The fleet's health at a glance; each figure links to the list it counts.
import { Anchor, Card, Group, Loader, SimpleGrid, Stack, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Suspense, lazy, type ReactNode } from "react";
import { Link } from "react-router-dom";

import { api, unwrap } from "../../api/client";
import type { JobSummary, Page } from "../../api/models";
import { PageTitle } from "../../components/PageTitle";
import { ProblemAlert } from "../../components/ProblemAlert";
import { useFleet } from "../../lib/fleet";
import { statusCounts } from "../../lib/fleetView";
import { useSession } from "../../lib/session";
import { failedPerHour } from "../../lib/trend";

const DAY_MS = 24 * 3600 * 1000;
const TrendChart = lazy(() => import("./TrendChart"));

function ChartCard({ title, children }: { title: string; children: ReactNode }) {
  return (
    <Card withBorder>
      <Text size="sm" fw={600} mb="xs">
        {title}
      </Text>
      <Suspense fallback={<Loader role="status" aria-label="Loading chart" size="sm" />}>{children}</Suspense>
    </Card>
  );
}

function Figure({ label, value, to, color }: { label: string; value: number | string; to: string; color?: string }) {
  return (
    <Card withBorder padding="md" component={Link} to={to} aria-label={`${label}: ${value}`}>
      <Text size="sm" c="dimmed">
        {label}
      </Text>
      <Text size="xl" fw={700} c={color ? `${color}.9` : undefined} data-testid={`figure-${label}`}>
        {value}
      </Text>
    </Card>
  );
}

interface AgentRow {
  agent_id: string;
}

function distinctAgents(items: AgentRow[]): number {
  return new Set(items.map((item) => item.agent_id)).size;
}

export default function HomePage() {
  const { can } = useSession();
  const fleet = useFleet();
  const counts = statusCounts(fleet.data ?? []);
  const inventory = can("inventory:read");
  const disks = useQuery({
    queryKey: ["inventory", "disks", 90],
    enabled: inventory,
    queryFn: async () =>
      distinctAgents(
        (unwrap(await api.GET("/api/v1/inventory/disks", { params: { query: { above_pct: 90, limit: 1000 } } })) as unknown as Page<AgentRow>).items,
      ),
  });
  const security = useQuery({
    queryKey: ["inventory", "updates", "security"],
    enabled: inventory,
    queryFn: async () =>
      distinctAgents(
        (unwrap(await api.GET("/api/v1/inventory/updates", { params: { query: { security: true, limit: 1000 } } })) as unknown as Page<AgentRow>).items,
      ),
  });
  const recentJobs = useQuery({
    queryKey: ["jobs", "recent"],
    enabled: can("jobs:read"),
    queryFn: async () =>
      (unwrap(await api.GET("/api/v1/jobs", { params: { query: { limit: 500 } } })) as unknown as Page<JobSummary>).items,
  });
  const jobs = {
    error: recentJobs.error,
    data: recentJobs.data?.filter((job) => job.status === "failed" && Date.parse(job.created_at) >= Date.now() - DAY_MS).length,
  };
  const trend = useQuery({
    queryKey: ["fleet", "trend"],
    refetchInterval: 300_000,
    queryFn: async () => unwrap(await api.GET("/api/v1/fleet/trend")),
  });
  const runs = useQuery({
    queryKey: ["runs", "failed", "24h"],
    enabled: can("workflows:read"),
    queryFn: async () => {
      const since = new Date(Date.now() - DAY_MS).toISOString();
      const page = unwrap(
        await api.GET("/api/v1/runs", { params: { query: { status: "failed", since, limit: 1000 } } }),
      ) as unknown as Page<unknown>;
      return page.items.length;
    },
  });
  const show = (value: number | undefined) => (value === undefined ? "…" : value);

  return (
    <Stack>
      <PageTitle title="Home" />
      <ProblemAlert error={fleet.error ?? disks.error ?? security.error ?? jobs.error ?? runs.error ?? trend.error} />
      <Title order={3} size="h4">
        Agents
      </Title>
      <SimpleGrid cols={{ base: 2, sm: 4 }}>
        <Figure label="Online" value={fleet.data ? counts.online : "…"} to="/fleet?status=online" color="teal" />
        <Figure label="Offline" value={fleet.data ? counts.offline : "…"} to="/fleet?status=offline" />
        <Figure label="Overdue" value={fleet.data ? counts.overdue : "…"} to="/fleet?status=overdue" color="orange" />
        <Figure label="Waiting for approval" value={fleet.data ? counts.pending : "…"} to="/fleet?status=pending" color="grape" />
      </SimpleGrid>
      <Title order={3} size="h4">
        Attention
      </Title>
      <SimpleGrid cols={{ base: 2, sm: 4 }}>
        {inventory && <Figure label="Disk above 90 %" value={show(disks.data)} to="/patching?view=disks" color="red" />}
        {inventory && (
          <Figure label="Pending security updates" value={show(security.data)} to="/patching?security=true" color="orange" />
        )}
        {can("jobs:read") && <Figure label="Failed jobs (24 h)" value={show(jobs.data)} to="/jobs?status=failed" color="red" />}
        {can("workflows:read") && (
          <Figure label="Failed workflow runs (24 h)" value={show(runs.data)} to="/workflows/runs?status=failed" color="red" />
        )}
      </SimpleGrid>
      <Title order={3} size="h4">
        The last day
      </Title>
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <ChartCard title="Online agents">
          {trend.data && trend.data.samples.length > 1 ? (
            <TrendChart
              label="Online agents"
              color="#0ca678"
              points={trend.data.samples.map((s) => ({ at: Date.parse(s.at) / 1000, value: s.online }))}
            />
          ) : (
            <Text size="sm" c="dimmed">
              The server samples the fleet every 5 minutes; the chart starts with the second sample.
            </Text>
          )}
        </ChartCard>
        {can("jobs:read") && (
          <ChartCard title="Failed jobs per hour">
            {recentJobs.data ? (
              <TrendChart label="Failed jobs" color="#e03131" points={failedPerHour(recentJobs.data, Date.now())} />
            ) : (
              <Loader role="status" aria-label="Loading" size="sm" />
            )}
          </ChartCard>
        )}
      </SimpleGrid>
      <Group>
        <Anchor component={Link} to="/fleet">
          Open the fleet
        </Anchor>
      </Group>
    </Stack>
  );
}
