// The fleet: live status from the event stream, filters, sort, multi-select and bulk actions.
import { Button, Group, Menu, Modal, Select, Stack, Text, TextInput } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useDeferredValue, useMemo, useState } from "react";
import { useNavigate, useSearchParams } from "react-router-dom";

import { api, unwrap } from "../../api/client";
import type { Agent, AgentStatus } from "../../api/models";
import { PageTitle } from "../../components/PageTitle";
import { ProblemAlert } from "../../components/ProblemAlert";
import { forEachLimited, type BulkResult } from "../../lib/bulk";
import { FLEET_KEY, upsertAgent, useFleet } from "../../lib/fleet";
import { allTags, fleetView, type SortKey } from "../../lib/fleetView";
import { useSession } from "../../lib/session";
import { FleetTable } from "./FleetTable";

const STATUSES = ["all", "online", "offline", "overdue", "pending", "revoked"] as const;
const TAG_PATTERN = /^[a-z0-9][a-z0-9._:-]{0,63}$/;

function report(action: string, result: BulkResult) {
  const error = result.firstError instanceof Error ? ` (${result.firstError.message})` : "";
  notifications.show({
    color: result.failed ? "red" : "teal",
    title: action,
    message: `${result.ok} done${result.failed ? `, ${result.failed} failed${error}` : ""}`,
  });
}

export default function FleetPage() {
  const { can } = useSession();
  const client = useQueryClient();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const fleet = useFleet();
  const status = (params.get("status") ?? "all") as AgentStatus | "all";
  const tag = params.get("tag") ?? "";
  const [text, setText] = useState(params.get("q") ?? "");
  const deferredText = useDeferredValue(text);
  const [sort, setSort] = useState<SortKey>("hostname");
  const [descending, setDescending] = useState(false);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [tagDialog, setTagDialog] = useState<"add" | "remove" | null>(null);
  const [tagValue, setTagValue] = useState("");
  const [confirmRevoke, setConfirmRevoke] = useState(false);
  const [busy, setBusy] = useState(false);

  const agents = useMemo(() => fleet.data ?? [], [fleet.data]);
  const rows = useMemo(
    () => fleetView(agents, { status, tag, text: deferredText }, sort, descending),
    [agents, status, tag, deferredText, sort, descending],
  );
  const tags = useMemo(() => allTags(agents), [agents]);
  const chosen = useMemo(() => agents.filter((agent) => selected.has(agent.id)), [agents, selected]);

  const setParam = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value && value !== "all") next.set(key, value);
    else next.delete(key);
    setParams(next, { replace: true });
  };
  const onToggle = useCallback((id: string) => {
    setSelected((old) => {
      const next = new Set(old);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  }, []);
  const onToggleAll = useCallback(() => {
    setSelected((old) => (rows.length > 0 && rows.every((r) => old.has(r.id)) ? new Set() : new Set(rows.map((r) => r.id))));
  }, [rows]);
  const onSort = useCallback(
    (key: SortKey) => {
      if (key === sort) setDescending((d) => !d);
      else {
        setSort(key);
        setDescending(false);
      }
    },
    [sort],
  );

  async function bulk(action: string, run: (agent: Agent) => Promise<unknown>) {
    setBusy(true);
    try {
      report(action, await forEachLimited(chosen, run));
    } finally {
      setBusy(false);
    }
  }

  async function changeTags(mode: "add" | "remove") {
    const value = tagValue.trim().toLowerCase();
    if (!TAG_PATTERN.test(value)) return;
    setTagDialog(null);
    await bulk(mode === "add" ? `Add tag ${value}` : `Remove tag ${value}`, async (agent) => {
      const next = mode === "add" ? [...new Set([...agent.tags, value])] : agent.tags.filter((t) => t !== value);
      const updated = unwrap(
        await api.PATCH("/api/v1/agents/{agent_id}", { params: { path: { agent_id: agent.id } }, body: { tags: next } }),
      ) as unknown as Agent;
      upsertAgent(client, updated);
    });
    setTagValue("");
  }

  const mayWrite = can("agents:write");
  const tagError = tagValue && !TAG_PATTERN.test(tagValue.trim().toLowerCase()) ? "Letters, digits and . _ : - (at most 64)" : undefined;

  return (
    <Stack>
      <PageTitle title="Fleet">
        <Text c="dimmed" size="sm" data-testid="fleet-count">
          {rows.length} of {agents.length} agents
        </Text>
      </PageTitle>
      <ProblemAlert error={fleet.error} />
      <Group align="end">
        <TextInput
          label="Search"
          placeholder="hostname, id, OS, tag"
          value={text}
          onChange={(e) => {
            setText(e.currentTarget.value);
            setParam("q", e.currentTarget.value);
          }}
          w={260}
        />
        <Select label="Status" data={[...STATUSES]} value={status} onChange={(v) => setParam("status", v ?? "all")} w={150} allowDeselect={false} />
        <Select label="Tag" data={tags} value={tag || null} onChange={(v) => setParam("tag", v ?? "")} clearable placeholder="any" w={180} />
        <Menu>
          <Menu.Target>
            <Button variant="default" disabled={selected.size === 0 || busy} loading={busy}>
              Actions ({selected.size})
            </Button>
          </Menu.Target>
          <Menu.Dropdown>
            {can("jobs:run") && (
              <Menu.Item onClick={() => navigate("/run", { state: { agents: [...selected] } })}>Run a script…</Menu.Item>
            )}
            {mayWrite && <Menu.Item onClick={() => setTagDialog("add")}>Add a tag…</Menu.Item>}
            {mayWrite && <Menu.Item onClick={() => setTagDialog("remove")}>Remove a tag…</Menu.Item>}
            {can("jobs:run") && (
              <Menu.Item
                onClick={() =>
                  void bulk("Refresh inventory", async (agent) =>
                    unwrap(
                      await api.POST("/api/v1/agents/{agent_id}/inventory/refresh", {
                        params: { path: { agent_id: agent.id } },
                        body: { wait_s: 0 },
                      }),
                    ),
                  )
                }
              >
                Refresh inventory
              </Menu.Item>
            )}
            {mayWrite && (
              <Menu.Item color="red" onClick={() => setConfirmRevoke(true)}>
                Revoke…
              </Menu.Item>
            )}
          </Menu.Dropdown>
        </Menu>
        {selected.size > 0 && (
          <Button variant="subtle" onClick={() => setSelected(new Set())}>
            Clear selection
          </Button>
        )}
      </Group>
      <FleetTable
        rows={rows}
        selected={selected}
        onToggle={onToggle}
        onToggleAll={onToggleAll}
        sort={sort}
        descending={descending}
        onSort={onSort}
      />
      <Modal opened={tagDialog !== null} onClose={() => setTagDialog(null)} title={tagDialog === "add" ? "Add a tag" : "Remove a tag"}>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (tagDialog) void changeTags(tagDialog);
          }}
        >
          <Stack>
            <TextInput label="Tag" value={tagValue} onChange={(e) => setTagValue(e.currentTarget.value)} error={tagError} data-autofocus />
            <Text size="sm">On {selected.size} selected agents.</Text>
            <Button type="submit" disabled={!tagValue.trim() || !!tagError}>
              {tagDialog === "add" ? "Add" : "Remove"}
            </Button>
          </Stack>
        </form>
      </Modal>
      <Modal opened={confirmRevoke} onClose={() => setConfirmRevoke(false)} title="Revoke agents">
        <Stack>
          <Text>
            Revoke {selected.size} agents? They are disconnected at once and can only come back by enrolling again.
          </Text>
          <Group justify="end">
            <Button variant="default" onClick={() => setConfirmRevoke(false)}>
              Cancel
            </Button>
            <Button
              color="red"
              onClick={() => {
                setConfirmRevoke(false);
                void bulk("Revoke", async (agent) => {
                  upsertAgent(
                    client,
                    unwrap(await api.POST("/api/v1/agents/{agent_id}/revoke", { params: { path: { agent_id: agent.id } } })) as unknown as Agent,
                  );
                }).then(() => client.invalidateQueries({ queryKey: FLEET_KEY }));
              }}
            >
              Revoke
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}
