// Schedules: the list (enable, disable), one schedule's next fire times (the API's preview) and the
// record of every slot, editing it, and creating one.
import { Anchor, Button, Group, List, Paper, Stack, Table, Text } from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useSearchParams } from "react-router-dom";

import { api, unwrap } from "../../api/client";
import type { Page } from "../../api/models";
import { ActorName } from "../../components/ActorName";
import { Loading } from "../../components/Loading";
import { PageTitle } from "../../components/PageTitle";
import { ConfirmButton } from "../../components/ConfirmButton";
import { ProblemAlert } from "../../components/ProblemAlert";
import { StatusBadge } from "../../components/StatusBadge";
import { formatAgo } from "../../lib/format";
import { shortId } from "../../lib/jobs";
import { useSession } from "../../lib/session";
import { ScheduleForm } from "./ScheduleForm";
import { timingText, type Schedule, type SlotRecord, type Slot } from "./schedules";

const KEY = ["schedules"];

function when(iso: string | null): string {
  return iso ? new Date(iso).toLocaleString() : "—";
}

function Detail({ schedule }: { schedule: Schedule }) {
  const path = { schedule_id: schedule.id };
  const preview = useQuery({
    queryKey: ["schedules", schedule.id, "preview", schedule.version],
    queryFn: async () =>
      (unwrap(await api.GET("/api/v1/schedules/{schedule_id}/preview", { params: { path, query: { count: 5 } } })) as unknown as { items: Slot[] }).items,
  });
  const runs = useQuery({
    queryKey: ["schedules", schedule.id, "runs"],
    queryFn: async () => unwrap(await api.GET("/api/v1/schedules/{schedule_id}/runs", { params: { path, query: { limit: 100 } } })) as unknown as Page<SlotRecord>,
    refetchInterval: 5000,
  });
  return (
    <Stack>
      <div>
        <Text fw={500} size="sm">
          Next fire times
        </Text>
        <ProblemAlert error={preview.error} />
        {preview.data && (preview.data.length ? (
          <List size="sm" data-testid="saved-preview">
            {preview.data.map((slot) => (
              <List.Item key={slot.at}>{slot.local.replace("T", " ")}</List.Item>
            ))}
          </List>
        ) : (
          <Text size="sm">{schedule.status === "disabled" ? "Disabled: enable it to fire." : "No further slot."}</Text>
        ))}
      </div>
      <div>
        <Text fw={500} size="sm">
          Every slot so far
        </Text>
        <ProblemAlert error={runs.error} />
        {runs.data && (runs.data.items.length === 0 ? (
          <Text size="sm">No slot has come yet.</Text>
        ) : (
          <Table>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Slot</Table.Th>
                <Table.Th>Outcome</Table.Th>
                <Table.Th>Late by</Table.Th>
                <Table.Th>Job</Table.Th>
                <Table.Th>Reason</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {runs.data.items.map((run) => (
                <Table.Tr key={run.id} data-testid="slot-record">
                  <Table.Td>
                    {when(run.slot_at)}
                    {run.slots > 1 ? ` (${run.slots} slots)` : ""}
                  </Table.Td>
                  <Table.Td>
                    <StatusBadge status={run.outcome} />
                  </Table.Td>
                  <Table.Td>{run.lateness_s === null ? "—" : `${run.lateness_s.toFixed(1)} s`}</Table.Td>
                  <Table.Td>
                    {run.job_id ? (
                      <Anchor component={Link} to={`/jobs/${run.job_id}`} ff="monospace">
                        {shortId(run.job_id)}
                      </Anchor>
                    ) : (
                      "—"
                    )}
                  </Table.Td>
                  <Table.Td>{run.reason ?? "—"}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        ))}
      </div>
    </Stack>
  );
}

export default function SchedulesPage() {
  const { can } = useSession();
  const client = useQueryClient();
  const [params, setParams] = useSearchParams();
  const selected = params.get("id");
  const mode = params.get("mode"); // "new" or "edit"
  const [error, setError] = useState<unknown>(null);
  const schedules = useQuery({
    queryKey: KEY,
    queryFn: async () => unwrap(await api.GET("/api/v1/schedules", { params: { query: { limit: 500 } } })) as unknown as Page<Schedule>,
  });
  const items = schedules.data?.items ?? [];
  const current = items.find((s) => s.id === selected) ?? null;
  const writable = can("schedules:write") && can("jobs:run");
  // The console writes script jobs; other actions are changed through the API (docs/console-pages.md).
  const editable = current?.action.type === "job" && current.action.job.role === "script";
  const go = (id: string | null, nextMode: string | null = null) => {
    const next = new URLSearchParams();
    if (id) next.set("id", id);
    if (nextMode) next.set("mode", nextMode);
    setParams(next);
  };

  async function act(schedule: Schedule, action: "enable" | "disable" | "delete") {
    setError(null);
    const path = { schedule_id: schedule.id };
    try {
      if (action === "delete") {
        unwrap(await api.DELETE("/api/v1/schedules/{schedule_id}", { params: { path } }));
        go(null);
      } else if (action === "enable") {
        unwrap(await api.POST("/api/v1/schedules/{schedule_id}/enable", { params: { path } }));
      } else {
        unwrap(await api.POST("/api/v1/schedules/{schedule_id}/disable", { params: { path } }));
      }
      await client.invalidateQueries({ queryKey: KEY });
    } catch (e) {
      setError(e);
    }
  }

  async function saved(schedule: Schedule) {
    await client.invalidateQueries({ queryKey: KEY });
    go(schedule.id);
  }

  return (
    <Stack>
      <PageTitle title="Schedules">{writable && <Button onClick={() => go(null, "new")}>New schedule</Button>}</PageTitle>
      <ProblemAlert error={schedules.error} title="Schedules could not be read" />
      <ProblemAlert error={error} />
      {mode === "new" && (
        <Paper withBorder p="md">
          <ScheduleForm schedule={null} onSaved={(s) => void saved(s)} />
        </Paper>
      )}
      {schedules.isPending ? (
        <Loading />
      ) : items.length === 0 ? (
        <Text>No schedule yet.</Text>
      ) : (
        <Table.ScrollContainer minWidth={800}>
          <Table highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Timing</Table.Th>
                <Table.Th>Next run</Table.Th>
                <Table.Th>Runs</Table.Th>
                <Table.Th>Last job</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {items.map((s) => (
                <Table.Tr key={s.id} data-testid="schedule-row" data-status={s.status}>
                  <Table.Td>
                    <Anchor component="button" type="button" onClick={() => go(s.id)} fw={500}>
                      {s.name}
                    </Anchor>
                  </Table.Td>
                  <Table.Td>
                    <StatusBadge status={s.status} />
                  </Table.Td>
                  <Table.Td ff="monospace">{timingText(s)}</Table.Td>
                  <Table.Td>{when(s.next_run_at)}</Table.Td>
                  <Table.Td>{s.run_count}</Table.Td>
                  <Table.Td>
                    {s.last_job_id ? (
                      <Anchor component={Link} to={`/jobs/${s.last_job_id}`} ff="monospace">
                        {shortId(s.last_job_id)}
                      </Anchor>
                    ) : (
                      "—"
                    )}
                  </Table.Td>
                  <Table.Td>
                    {can("schedules:write") && (
                      <Button size="xs" variant="light" onClick={() => void act(s, s.enabled ? "disable" : "enable")} aria-label={`${s.enabled ? "Disable" : "Enable"} ${s.name}`}>
                        {s.enabled ? "Disable" : "Enable"}
                      </Button>
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {current && (
        <Paper withBorder p="md">
          <Group justify="space-between" mb="sm">
            <Text fw={500}>
              {current.name} · version {current.version} · owner <ActorName actor={current.owner} />, updated {formatAgo(current.updated_at)}
            </Text>
            {writable && (
              <Group gap="xs">
                {editable && (
                  <Button size="xs" variant="default" onClick={() => go(current.id, mode === "edit" ? null : "edit")}>
                    {mode === "edit" ? "Close editor" : "Edit"}
                  </Button>
                )}
                <ConfirmButton
                  size="xs"
                  title={`Delete the schedule "${current.name}"?`}
                  message="It fires no more, and the record of its slots is deleted with it."
                  confirmLabel="Delete"
                  onConfirm={() => act(current, "delete")}
                >
                  Delete
                </ConfirmButton>
              </Group>
            )}
          </Group>
          {mode === "edit" && editable ? (
            <ScheduleForm key={`${current.id}-${current.version}`} schedule={current} onSaved={(s) => void saved(s)} />
          ) : (
            <Detail schedule={current} />
          )}
        </Paper>
      )}
    </Stack>
  );
}
