// Patching: machines with pending OS updates across the fleet (security first), the packages of one,
// installing on a selection (an `updates` job), and the results of past installs.
import { Anchor, Button, Checkbox, Group, Modal, SegmentedControl, Stack, Switch, Table, Text } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { Link, useNavigate } from "react-router-dom";

import { api, unwrap } from "../../api/client";
import type { InventorySection, JobSummary, Page } from "../../api/models";
import { ActorName } from "../../components/ActorName";
import { Loading } from "../../components/Loading";
import { PageTitle } from "../../components/PageTitle";
import { ProblemAlert } from "../../components/ProblemAlert";
import { RecordTable, type RecordRow } from "../../components/RecordTable";
import { StatusBadge } from "../../components/StatusBadge";
import { formatAgo } from "../../lib/format";
import { shortId, submitJob } from "../../lib/jobs";
import { useSession } from "../../lib/session";

interface Pending {
  agent_id: string;
  hostname: string;
  pending: number;
  security: number;
}

const MAX_PAGES = 20;

async function fetchPending(securityOnly: boolean): Promise<Pending[]> {
  const rows: Pending[] = [];
  let cursor: string | undefined;
  for (let n = 0; n < MAX_PAGES; n++) {
    const page = unwrap(
      await api.GET("/api/v1/inventory/updates", { params: { query: { security: securityOnly, limit: 1000, cursor } } }),
    ) as unknown as Page<Pending>;
    rows.push(...page.items);
    if (!page.next_cursor) break;
    cursor = String(page.next_cursor);
  }
  // Security first, then the most pending, then by name.
  return rows.sort((a, b) => b.security - a.security || b.pending - a.pending || a.hostname.localeCompare(b.hostname));
}

function Packages({ agentId }: { agentId: string }) {
  const section = useQuery({
    queryKey: ["agent", agentId, "inventory", "updates"],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/agents/{agent_id}/inventory/{section}", { params: { path: { agent_id: agentId, section: "updates" } } }),
      ) as unknown as InventorySection,
  });
  if (section.isPending) return <Loading />;
  if (section.error) return <ProblemAlert error={section.error} />;
  const rows = (Array.isArray(section.data.data) ? section.data.data : []) as RecordRow[];
  rows.sort((a, b) => Number(!!b.security) - Number(!!a.security));
  return (
    <RecordTable
      rows={rows}
      noun="packages"
      searchable
      columns={[
        { key: "name", label: "Package" },
        { key: "current_version", label: "Installed" },
        { key: "version", label: "Available" },
        { key: "security", label: "Security", render: (row) => (row.security ? "yes" : "no") },
      ]}
    />
  );
}

export default function PatchingPage() {
  const { can } = useSession();
  const navigate = useNavigate();
  const [securityOnly, setSecurityOnly] = useState(false);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [open, setOpen] = useState<string | null>(null);
  const [confirm, setConfirm] = useState(false);
  const [which, setWhich] = useState<"security" | "all">("security");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const pending = useQuery({ queryKey: ["patching", securityOnly], queryFn: () => fetchPending(securityOnly) });
  const installs = useQuery({
    queryKey: ["jobs", "list", "updates"],
    queryFn: async () => unwrap(await api.GET("/api/v1/jobs", { params: { query: { limit: 200 } } })) as unknown as Page<JobSummary>,
    enabled: can("jobs:read"),
  });
  const rows = useMemo(() => pending.data ?? [], [pending.data]);
  const recent = (installs.data?.items ?? []).filter((j) => j.role === "updates" && (j.params as { action?: string }).action === "install").slice(0, 20);
  const allChosen = rows.length > 0 && rows.every((r) => selected.has(r.agent_id));

  const toggle = (id: string) =>
    setSelected((old) => {
      const next = new Set(old);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });

  async function install() {
    setBusy(true);
    setError(null);
    try {
      const job = await submitJob({
        role: "updates",
        params: { action: "install", which },
        target: { agents: [...selected] },
        timeout_s: 3600,
      });
      navigate(`/jobs/${job.id}`);
    } catch (e) {
      setError(e);
      setConfirm(false);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Stack>
      <PageTitle title="Patching">
        {can("jobs:run") && (
          <Button disabled={selected.size === 0} onClick={() => setConfirm(true)}>
            Install updates on {selected.size} machine{selected.size === 1 ? "" : "s"}
          </Button>
        )}
      </PageTitle>
      <Group>
        <Switch label="Security updates only" checked={securityOnly} onChange={(e) => setSecurityOnly(e.currentTarget.checked)} />
        <Text size="sm" c="dimmed" data-testid="patching-count">
          {rows.length} machine{rows.length === 1 ? "" : "s"} with pending updates, as last collected
        </Text>
      </Group>
      <ProblemAlert error={error} title="The install was not started" />
      <ProblemAlert error={pending.error} title="Pending updates could not be read" />
      {pending.isPending ? (
        <Loading />
      ) : rows.length === 0 ? (
        <Text>No machine reports pending {securityOnly ? "security " : ""}updates.</Text>
      ) : (
        <Table.ScrollContainer minWidth={600}>
          <Table>
            <Table.Thead>
              <Table.Tr>
                <Table.Th w={40}>
                  {can("jobs:run") && (
                    <Checkbox
                      aria-label="Select every machine"
                      checked={allChosen}
                      indeterminate={selected.size > 0 && !allChosen}
                      onChange={() => setSelected(allChosen ? new Set() : new Set(rows.map((r) => r.agent_id)))}
                    />
                  )}
                </Table.Th>
                <Table.Th>Machine</Table.Th>
                <Table.Th>Security updates</Table.Th>
                <Table.Th>All pending</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((row) => [
                <Table.Tr key={row.agent_id} data-testid="patching-row">
                  <Table.Td>
                    {can("jobs:run") && (
                      <Checkbox aria-label={`Select ${row.hostname}`} checked={selected.has(row.agent_id)} onChange={() => toggle(row.agent_id)} />
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Anchor component={Link} to={`/devices/${row.agent_id}`}>
                      {row.hostname}
                    </Anchor>
                  </Table.Td>
                  <Table.Td>
                    <Text c={row.security ? "red" : undefined} fw={row.security ? 600 : undefined} size="sm">
                      {row.security}
                    </Text>
                  </Table.Td>
                  <Table.Td>{row.pending}</Table.Td>
                  <Table.Td>
                    <Button size="xs" variant="default" onClick={() => setOpen(open === row.agent_id ? null : row.agent_id)}>
                      {open === row.agent_id ? "Hide packages" : "Packages"}
                    </Button>
                  </Table.Td>
                </Table.Tr>,
                open === row.agent_id && (
                  <Table.Tr key={`${row.agent_id}-packages`}>
                    <Table.Td colSpan={5}>
                      <Packages agentId={row.agent_id} />
                    </Table.Td>
                  </Table.Tr>
                ),
              ])}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {can("jobs:read") && (
        <Stack gap="xs">
          <Text fw={500}>Recent installs</Text>
          <ProblemAlert error={installs.error} />
          {recent.length === 0 ? (
            <Text size="sm">No install has been run from here yet.</Text>
          ) : (
            <Table>
              <Table.Tbody>
                {recent.map((job) => (
                  <Table.Tr key={job.id}>
                    <Table.Td>
                      <Anchor component={Link} to={`/jobs/${job.id}`} ff="monospace">
                        {shortId(job.id)}
                      </Anchor>
                    </Table.Td>
                    <Table.Td>
                      <StatusBadge status={job.status} />
                    </Table.Td>
                    <Table.Td>{String((job.params as { which?: string }).which ?? "all")} updates</Table.Td>
                    <Table.Td>
                      {job.agent_count} machine{job.agent_count === 1 ? "" : "s"}
                    </Table.Td>
                    <Table.Td>
                      <ActorName actor={job.created_by} />, {formatAgo(job.created_at)}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
        </Stack>
      )}
      <Modal opened={confirm} onClose={() => setConfirm(false)} title="Install updates">
        <Stack>
          <Text size="sm">
            The package manager of {selected.size} machine{selected.size === 1 ? "" : "s"} installs the updates now, non-interactively.
            Services may restart.
          </Text>
          <SegmentedControl
            aria-label="Which updates"
            value={which}
            onChange={(v) => setWhich(v as "security" | "all")}
            data={[
              { value: "security", label: "Security updates" },
              { value: "all", label: "All updates" },
            ]}
          />
          <Group justify="end">
            <Button variant="default" onClick={() => setConfirm(false)}>
              Cancel
            </Button>
            <Button color="red" onClick={() => void install()} loading={busy}>
              Install
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}
