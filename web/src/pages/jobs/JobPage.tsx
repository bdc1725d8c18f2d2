// One job, live: every agent's row (status, exit code, stdout/stderr as it streams), progress, cancel.
import { Anchor, Badge, Button, Code, Group, Paper, Progress, Select, Stack, Text } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMemo, useState } from "react";
import { Link, useParams } from "react-router-dom";

import { ActorName } from "../../components/ActorName";
import { PageTitle } from "../../components/PageTitle";
import { ProblemAlert } from "../../components/ProblemAlert";
import { StatusBadge } from "../../components/StatusBadge";
import { useFleet } from "../../lib/fleet";
import { formatAgo } from "../../lib/format";
import { FINAL, cancelJob, shortId, useLiveJob, type JobRow } from "../../lib/jobs";
import { useSession } from "../../lib/session";

const SHOWN = 200;

function Output({ label, text }: { label: string; text: string }) {
  if (!text) return null;
  return (
    <div>
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Code block mah={320} style={{ overflow: "auto", whiteSpace: "pre-wrap" }} data-testid={label}>
        {text}
      </Code>
    </div>
  );
}

function Row({ row, hostname }: { row: JobRow; hostname: string }) {
  return (
    <Paper withBorder p="sm" data-testid="job-row" data-agent={row.agent_id} data-status={row.status}>
      <Group justify="space-between" mb={row.stdout || row.stderr || row.error ? "xs" : 0}>
        <Group gap="sm">
          <Anchor component={Link} to={`/devices/${row.agent_id}`} fw={500}>
            {hostname}
          </Anchor>
          <StatusBadge status={row.status} />
        </Group>
        <Group gap="sm">
          {row.flags.length > 0 && <Badge variant="outline">{row.flags.join(", ")}</Badge>}
          <Text size="sm" data-testid="exit-code">
            exit code {row.exit_code ?? "—"}
          </Text>
        </Group>
      </Group>
      {row.error && (
        <Text size="sm" c="red">
          {row.error}
        </Text>
      )}
      <Output label="stdout" text={row.stdout} />
      <Output label="stderr" text={row.stderr} />
    </Paper>
  );
}

export default function JobPage() {
  const { id = "" } = useParams();
  const { can } = useSession();
  const live = useLiveJob(id);
  const fleet = useFleet();
  const [filter, setFilter] = useState<string>("all");
  const [cancelError, setCancelError] = useState<unknown>(null);
  const names = useMemo(() => new Map((fleet.data ?? []).map((a) => [a.id, a.hostname])), [fleet.data]);
  const rows = useMemo(() => [...live.rows.values()], [live.rows]);
  const counts = useMemo(() => {
    const c: Record<string, number> = {};
    for (const row of rows) c[row.status] = (c[row.status] ?? 0) + 1;
    return c;
  }, [rows]);
  const finished = rows.filter((r) => FINAL.has(r.status)).length;
  const shown = rows.filter((r) => filter === "all" || r.status === filter);
  const job = live.job;
  const params = (job?.params ?? {}) as { language?: string; script?: string };
  const done = live.phase === "ended";

  async function cancel() {
    setCancelError(null);
    try {
      await cancelJob(id);
      notifications.show({ title: "Cancel sent", message: "Rows not yet started are cancelled; running ones are told to stop." });
    } catch (error) {
      setCancelError(error);
    }
  }

  return (
    <Stack>
      <PageTitle title={`Job ${shortId(id)}`}>
        <Group>
          <Badge variant="dot" color={live.phase === "live" ? "teal" : done ? "gray" : "orange"} data-testid="job-stream" data-phase={live.phase}>
            {done ? "finished" : live.phase}
          </Badge>
          {job && <StatusBadge status={done ? job.status : "running"} />}
          {can("jobs:run") && !done && (
            <Button color="red" variant="light" onClick={() => void cancel()}>
              Cancel job
            </Button>
          )}
        </Group>
      </PageTitle>
      <ProblemAlert error={cancelError} title="The job was not cancelled" />
      <ProblemAlert error={live.error} title="This job cannot be shown" />
      {job && (
        <Paper withBorder p="sm">
          <Stack gap={6}>
            <Text size="sm">
              {job.role}
              {params.language ? ` · ${params.language}` : ""} · run as {job.run_as} · timeout {job.timeout_s} s ·{" "}
              by <ActorName actor={job.created_by} /> {formatAgo(job.created_at)}
              {job.batch_size ? ` · batches of ${job.batch_size} (current: ${job.current_batch + 1})` : ""}
            </Text>
            <Progress value={rows.length ? (100 * finished) / rows.length : 0} aria-label="Progress" />
            <Text size="sm" data-testid="job-progress">
              {finished} of {rows.length} finished
              {Object.entries(counts).map(([status, n]) => ` · ${n} ${status}`)}
            </Text>
            {params.script && (
              <Code block mah={160} style={{ overflow: "auto" }}>
                {params.script}
              </Code>
            )}
            {job.script_id && (
              <Anchor component={Link} to={`/scripts?id=${job.script_id}`} size="sm">
                Library script, version {job.script_version}
              </Anchor>
            )}
          </Stack>
        </Paper>
      )}
      <Group>
        <Select
          label="Show rows"
          data={["all", ...Object.keys(counts)]}
          value={filter}
          onChange={(v) => setFilter(v ?? "all")}
          allowDeselect={false}
          w={180}
        />
        {shown.length > SHOWN && <Text size="sm">First {SHOWN} of {shown.length} shown; filter by status.</Text>}
      </Group>
      <Stack gap="xs">
        {shown.slice(0, SHOWN).map((row) => (
          <Row key={row.agent_id} row={row} hostname={names.get(row.agent_id) ?? row.agent_id} />
        ))}
      </Stack>
    </Stack>
  );
}
