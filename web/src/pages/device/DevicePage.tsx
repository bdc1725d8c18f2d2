// One device: overview, inventory tabs, its change history, its jobs, and CPU/memory charts.
import { Anchor, Button, Card, Group, Loader, SimpleGrid, Stack, Tabs, Text, Timeline, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Suspense, lazy } from "react";
import { Link, useParams } from "react-router-dom";

import { ApiError, api, unwrap } from "../../api/client";
import type { Agent, AgentMetrics, Inventory, InventoryChange, JobSummary, Page } from "../../api/models";
import { PageTitle } from "../../components/PageTitle";
import { ProblemAlert } from "../../components/ProblemAlert";
import { RecordTable, type Column } from "../../components/RecordTable";
import { StatusBadge } from "../../components/StatusBadge";
import { fetchAgent } from "../../lib/fleet";
import { formatAgo, formatBytes } from "../../lib/format";
import { useSession } from "../../lib/session";
import { InstallUpdates } from "./InstallUpdates";
import { Overview, listOf } from "./Overview";
import { ScreenPanel } from "./ScreenPanel";
import { Screenshot } from "./Screenshot";

const MetricsChart = lazy(() => import("./MetricsChart"));

const COLUMNS: Record<string, Column[]> = {
  software: [
    { key: "name", label: "Name" },
    { key: "version", label: "Version" },
    { key: "arch", label: "Arch" },
    { key: "source", label: "Source" },
  ],
  updates: [
    { key: "name", label: "Package" },
    { key: "current_version", label: "Installed" },
    { key: "version", label: "Available" },
    { key: "security", label: "Security", render: (row) => (row.security ? "yes" : "no") },
  ],
  processes: [
    { key: "pid", label: "PID" },
    { key: "name", label: "Name" },
    { key: "user", label: "User" },
    { key: "cpu_pct", label: "CPU %" },
    { key: "rss_bytes", label: "Memory", render: (row) => formatBytes(row.rss_bytes as number) },
  ],
  services: [
    { key: "name", label: "Name" },
    { key: "state", label: "State" },
    { key: "sub_state", label: "Sub-state" },
    { key: "start_mode", label: "Start" },
    { key: "description", label: "Description" },
  ],
  users: [
    { key: "name", label: "User" },
    { key: "terminal", label: "Terminal" },
    { key: "host", label: "From" },
    { key: "started_at", label: "Since" },
  ],
};

function changeText(change: InventoryChange): string {
  const show = (v: unknown) => (v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v));
  const before = show(change.before);
  const after = show(change.after);
  return [before && `from ${before}`, after && `to ${after}`].filter(Boolean).join(" ");
}

export default function DevicePage() {
  const { id = "" } = useParams();
  const { can } = useSession();
  const client = useQueryClient();
  const agent = useQuery<Agent>({ queryKey: ["agent", id], queryFn: () => fetchAgent(id) });
  const found = agent.isSuccess;
  const inventory = useQuery({
    queryKey: ["inventory", id],
    enabled: found && can("inventory:read"),
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/agents/{agent_id}/inventory", { params: { path: { agent_id: id } } })) as unknown as Inventory,
  });
  const changes = useQuery({
    queryKey: ["inventory", id, "changes"],
    enabled: found && can("inventory:read"),
    queryFn: async () =>
      (
        unwrap(
          await api.GET("/api/v1/agents/{agent_id}/inventory/changes", { params: { path: { agent_id: id }, query: { limit: 100 } } }),
        ) as unknown as Page<InventoryChange>
      ).items,
  });
  const metrics = useQuery({
    queryKey: ["metrics", id],
    enabled: found,
    refetchInterval: 60_000,
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/agents/{agent_id}/metrics", { params: { path: { agent_id: id } } })) as AgentMetrics,
  });
  const jobs = useQuery({
    queryKey: ["jobs", "recent", "device", id],
    enabled: found && can("jobs:read"),
    queryFn: async () =>
      (unwrap(await api.GET("/api/v1/jobs", { params: { query: { limit: 500 } } })) as unknown as Page<JobSummary>).items.filter(
        (job) => job.target.agents?.includes(id),
      ),
  });

  async function refresh() {
    try {
      unwrap(
        await api.POST("/api/v1/agents/{agent_id}/inventory/refresh", { params: { path: { agent_id: id } }, body: { wait_s: 30 } }),
      );
      await client.invalidateQueries({ queryKey: ["inventory", id] });
      notifications.show({ color: "teal", title: "Inventory", message: "Refreshed" });
    } catch (error) {
      notifications.show({ color: "red", title: "Inventory refresh failed", message: error instanceof Error ? error.message : String(error) });
    }
  }

  if (agent.isPending) return <Loader role="status" aria-label="Loading" />;
  if (agent.error) {
    const gone = agent.error instanceof ApiError && agent.error.status === 404;
    return (
      <Stack>
        <PageTitle title={gone ? "Agent not found" : "Device"} />
        {gone ? (
          <Text>
            There is no agent <code>{id}</code>: it was deleted, or never existed.
          </Text>
        ) : (
          <ProblemAlert error={agent.error} />
        )}
        <Anchor component={Link} to="/fleet">
          Back to the fleet
        </Anchor>
      </Stack>
    );
  }
  const device = agent.data;
  const samples = metrics.data?.samples ?? [];
  const tab = (section: string, noun: string, searchable = false) => (
    <Tabs.Panel value={section} pt="md">
      {inventory.isPending ? (
        <Loader role="status" aria-label="Loading" />
      ) : (
        <RecordTable rows={listOf(inventory.data, section)} columns={COLUMNS[section] ?? []} noun={noun} searchable={searchable} testId={section} />
      )}
    </Tabs.Panel>
  );

  return (
    <Stack>
      <PageTitle title={device.hostname}>
        <Group>
          <StatusBadge status={device.status} />
          {can("jobs:run") && (
            <Button component={Link} to="/run" state={{ agents: [device.id] }}>
              Run a script
            </Button>
          )}
          {can("jobs:run") && (
            <Button variant="default" onClick={() => void refresh()}>
              Refresh inventory
            </Button>
          )}
        </Group>
      </PageTitle>
      <ProblemAlert error={inventory.error ?? changes.error ?? metrics.error ?? jobs.error} />
      <Tabs defaultValue="overview" keepMounted={false}>
        <Tabs.List>
          <Tabs.Tab value="overview">Overview</Tabs.Tab>
          <Tabs.Tab value="software">Software</Tabs.Tab>
          <Tabs.Tab value="updates">Updates</Tabs.Tab>
          <Tabs.Tab value="processes">Processes</Tabs.Tab>
          <Tabs.Tab value="services">Services</Tabs.Tab>
          <Tabs.Tab value="users">Users</Tabs.Tab>
          <Tabs.Tab value="history">History</Tabs.Tab>
          <Tabs.Tab value="jobs">Jobs</Tabs.Tab>
          {can("desktop:view") && <Tabs.Tab value="screen">Screen</Tabs.Tab>}
        </Tabs.List>
        <Tabs.Panel value="overview" pt="md">
          <Stack>
            <Overview agent={device} inventory={inventory.data} />
            <SimpleGrid cols={{ base: 1, md: 2 }}>
              {(["cpu", "memory"] as const).map((series) => (
                <Card withBorder key={series}>
                  <Title order={3} size="h5" mb="xs">
                    {series === "cpu" ? "Agent CPU" : "Agent memory"} (last hours)
                  </Title>
                  {samples.length < 2 ? (
                    <Text size="sm" c="dimmed">
                      Not enough heartbeats yet ({samples.length} sample{samples.length === 1 ? "" : "s"}).
                    </Text>
                  ) : (
                    <Suspense fallback={<Loader role="status" aria-label="Loading chart" />}>
                      <MetricsChart samples={samples} series={series} />
                    </Suspense>
                  )}
                </Card>
              ))}
            </SimpleGrid>
          </Stack>
        </Tabs.Panel>
        {tab("software", "packages", true)}
        <Tabs.Panel value="updates" pt="md">
          {can("jobs:run") && inventory.data && (
            <InstallUpdates
              agentId={device.id}
              pending={listOf(inventory.data, "updates").length}
              security={listOf(inventory.data, "updates").filter((u) => u.security).length}
            />
          )}
          {inventory.isPending ? (
            <Loader role="status" aria-label="Loading" />
          ) : (
            <RecordTable rows={listOf(inventory.data, "updates")} columns={COLUMNS.updates ?? []} noun="pending updates" searchable testId="updates" />
          )}
        </Tabs.Panel>
        {tab("processes", "processes", true)}
        {tab("services", "services", true)}
        {tab("users", "sessions")}
        <Tabs.Panel value="history" pt="md">
          {changes.data && changes.data.length === 0 && <Text c="dimmed">No change recorded yet.</Text>}
          <Timeline bulletSize={14} lineWidth={2}>
            {(changes.data ?? []).map((change) => (
              <Timeline.Item key={change.id} title={`${change.section}: ${change.kind} ${change.subject}`}>
                <Text size="sm">{changeText(change)}</Text>
                <Text size="xs" c="dimmed">
                  {formatAgo(change.at)} · {new Date(change.at).toLocaleString()}
                </Text>
              </Timeline.Item>
            ))}
          </Timeline>
        </Tabs.Panel>
        <Tabs.Panel value="jobs" pt="md">
          <Text size="sm" c="dimmed" mb="xs">
            Recent jobs addressed to this agent by name (jobs sent to its tags or to all agents are on the Jobs page).
          </Text>
          <RecordTable
            rows={(jobs.data ?? []) as unknown as Record<string, unknown>[]}
            noun="jobs"
            columns={[
              { key: "id", label: "Job", render: (row) => <Anchor component={Link} to={`/jobs/${String(row.id)}`}>{String(row.id).slice(0, 12)}</Anchor> },
              { key: "role", label: "Role" },
              { key: "status", label: "Status", render: (row) => <StatusBadge status={String(row.status)} /> },
              { key: "created_by", label: "By" },
              { key: "created_at", label: "When", render: (row) => formatAgo(String(row.created_at)) },
            ]}
          />
        </Tabs.Panel>
        {can("desktop:view") && (
          <Tabs.Panel value="screen" pt="md">
            <Stack>
              <ScreenPanel agentId={device.id} online={device.status === "online"} canControl={can("desktop:control")} />
              {can("jobs:run") && <Screenshot agentId={device.id} online={device.status === "online"} />}
            </Stack>
          </Tabs.Panel>
        )}
      </Tabs>
    </Stack>
  );
}
