// Create or replace a schedule that runs a script: timing with a cron helper (presets and the server's
// preview of the next slots as you type), policies, and the job (script, target, timeout).
import {
  Button,
  Checkbox,
  Chip,
  Group,
  List,
  NumberInput,
  Paper,
  SegmentedControl,
  Select,
  Stack,
  Text,
  TextInput,
} from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { useQuery } from "@tanstack/react-query";
import { Suspense, lazy, useState } from "react";

import { api, unwrap } from "../../api/client";
import { Loading } from "../../components/Loading";
import { ProblemAlert } from "../../components/ProblemAlert";
import { TargetPicker, targetProblem, toTarget, type TargetChoice } from "../../components/TargetPicker";
import { failing, serverFieldError } from "../../lib/fieldErrors";
import { LANGUAGES, useScripts } from "../../lib/scripts";
import { PRESETS, previewTiming, type Schedule } from "./schedules";

const CodeEditor = lazy(() => import("../../components/CodeEditor"));

function initialTarget(schedule: Schedule | null): TargetChoice {
  const target = schedule?.action.type === "job" ? schedule.action.job.target : {};
  if (target.agents) return { kind: "agents", agents: target.agents, tags: [] };
  if (target.tags) return { kind: "tags", agents: [], tags: target.tags };
  return { kind: schedule ? "all" : "tags", agents: [], tags: [] };
}

export function ScheduleForm({ schedule, onSaved }: { schedule: Schedule | null; onSaved: (s: Schedule) => void }) {
  const job = schedule?.action.type === "job" ? schedule.action.job : null;
  const scripts = useScripts();
  const [name, setName] = useState(schedule?.name ?? "");
  const [mode, setMode] = useState<"cron" | "interval">(schedule?.interval_s ? "interval" : "cron");
  const [cron, setCron] = useState(schedule?.cron ?? "0 3 * * *");
  const [interval, setIntervalS] = useState<number | string>(schedule?.interval_s ?? 3600);
  const [timezone, setTimezone] = useState(schedule?.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone ?? "UTC");
  const [misfire, setMisfire] = useState<string>(schedule?.misfire ?? "skip");
  const [overlap, setOverlap] = useState<string>(schedule?.overlap ?? "skip");
  const [grace, setGrace] = useState<number | string>(schedule?.grace_s ?? 60);
  const [maxRuns, setMaxRuns] = useState<number | string>(schedule?.max_runs ?? "");
  const [enabled, setEnabled] = useState(schedule?.enabled ?? true);
  const [source, setSource] = useState<"inline" | "library">(job?.params.script_id ? "library" : "inline");
  const [scriptId, setScriptId] = useState<string | null>(job?.params.script_id ?? null);
  const [language, setLanguage] = useState(job?.params.language ?? "bash");
  const [body, setBody] = useState(job?.params.script ?? "");
  const [target, setTarget] = useState<TargetChoice>(() => initialTarget(schedule));
  const [timeout, setTimeoutS] = useState<number | string>(job?.timeout_s ?? 300);
  const [errors, setErrors] = useState<Record<string, string | null | undefined>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const [timing] = useDebouncedValue(
    mode === "cron" ? { cron: cron.trim(), timezone: timezone.trim() } : { interval_s: Number(interval), timezone: timezone.trim() },
    400,
  );
  const timingComplete = "cron" in timing ? !!timing.cron : Number.isInteger(timing.interval_s) && (timing.interval_s ?? 0) >= 1;
  const preview = useQuery({
    queryKey: ["schedule-preview", timing],
    queryFn: ({ signal }) => previewTiming(timing, signal),
    enabled: timingComplete && !!timing.timezone,
    retry: false,
    staleTime: 30_000,
  });
  const previewError = serverFieldError(preview.error, "cron", "interval_s", "timezone") ?? (preview.error ? (preview.error as Error).message : null);

  async function save() {
    const checks = failing({
      name: name.trim() ? (name.length > 128 ? "At most 128 characters" : null) : "Give the schedule a name",
      cron: mode === "cron" && !cron.trim() ? "Write a cron expression or pick one" : null,
      interval: mode === "interval" && (!Number.isInteger(Number(interval)) || Number(interval) < 1) ? "Whole seconds, 1 or more" : null,
      timezone: timezone.trim() ? null : "An IANA time zone such as Europe/Berlin or UTC",
      grace: Number(grace) < 0 || Number(grace) > 86400 ? "0 to 86400 seconds" : null,
      maxRuns: maxRuns !== "" && (!Number.isInteger(Number(maxRuns)) || Number(maxRuns) < 1) ? "Empty, or 1 or more" : null,
      script: source === "inline" && !body.trim() ? "Write the script to run" : source === "library" && !scriptId ? "Choose a script" : null,
      target: targetProblem(target),
      timeout: !Number.isInteger(Number(timeout)) || Number(timeout) < 1 || Number(timeout) > 604800 ? "1 to 604800 seconds" : null,
    });
    setErrors(checks);
    setError(null);
    if (Object.keys(checks).length) return;
    const draft = {
      name: name.trim(),
      ...(mode === "cron" ? { cron: cron.trim() } : { interval_s: Number(interval) }),
      timezone: timezone.trim(),
      misfire,
      overlap,
      grace_s: Number(grace),
      max_runs: maxRuns === "" ? null : Number(maxRuns),
      enabled,
      action: {
        type: "job",
        job: {
          role: "script",
          params: source === "inline" ? { language, script: body } : { script_id: scriptId },
          target: toTarget(target),
          timeout_s: Number(timeout),
        },
      },
    };
    setBusy(true);
    try {
      const result = schedule
        ? await api.PUT("/api/v1/schedules/{schedule_id}", {
            params: { path: { schedule_id: schedule.id } },
            body: { ...draft, version: schedule.version } as never,
          })
        : await api.POST("/api/v1/schedules", { body: draft as never });
      onSaved(unwrap(result) as unknown as Schedule);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  const fieldError = (key: string, ...server: string[]) => errors[key] ?? serverFieldError(error, ...server);
  return (
    <Stack>
      <ProblemAlert error={error} title="The schedule was not saved" />
      <Group align="start">
        <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} error={fieldError("name", "name")} w={260} />
        <Checkbox mt={32} label="Enabled" checked={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} />
      </Group>
      <Paper withBorder p="sm">
        <Stack gap="xs">
          <Group align="end">
            <SegmentedControl
              aria-label="Timing"
              value={mode}
              onChange={(v) => setMode(v as "cron" | "interval")}
              data={[
                { value: "cron", label: "Cron" },
                { value: "interval", label: "Every N seconds" },
              ]}
            />
            {mode === "cron" ? (
              <TextInput
                label="Cron expression"
                description="minute hour day month weekday (seconds first if 6 fields)"
                value={cron}
                onChange={(e) => setCron(e.currentTarget.value)}
                ff="monospace"
                w={300}
                error={fieldError("cron", "cron") ?? (preview.error ? serverFieldError(preview.error, "cron") : null)}
              />
            ) : (
              <NumberInput label="Interval (seconds)" value={interval} onChange={setIntervalS} min={1} w={180} error={fieldError("interval", "interval_s")} />
            )}
            <TextInput label="Time zone" value={timezone} onChange={(e) => setTimezone(e.currentTarget.value)} w={200} error={fieldError("timezone", "timezone") ?? serverFieldError(preview.error, "timezone")} />
          </Group>
          {mode === "cron" && (
            <Group gap="xs" aria-label="Common schedules" role="group">
              {PRESETS.map((preset) => (
                <Chip key={preset.cron} checked={cron === preset.cron} onChange={() => setCron(preset.cron)} size="xs">
                  {preset.label}
                </Chip>
              ))}
            </Group>
          )}
          <div data-testid="schedule-preview">
            <Text size="sm" fw={500}>
              Next fire times
            </Text>
            {preview.isFetching ? (
              <Text size="sm">Computing…</Text>
            ) : preview.error ? (
              <Text size="sm" c="red" role="alert">
                {previewError}
              </Text>
            ) : preview.data ? (
              preview.data.length ? (
                <List size="sm">
                  {preview.data.map((slot) => (
                    <List.Item key={slot.at}>
                      {slot.local.replace("T", " ")} <Text span c="dimmed" size="xs">({slot.at.replace("T", " ")})</Text>
                    </List.Item>
                  ))}
                </List>
              ) : (
                <Text size="sm">No slot: this timing never fires.</Text>
              )
            ) : null}
          </div>
        </Stack>
      </Paper>
      <Group align="start">
        <Select
          label="Missed slots (server down)"
          data={[
            { value: "skip", label: "Skip them" },
            { value: "run_once", label: "Run once for all" },
          ]}
          value={misfire}
          onChange={(v) => setMisfire(v ?? "skip")}
          allowDeselect={false}
          w={200}
        />
        <NumberInput label="Grace (seconds)" value={grace} onChange={setGrace} min={0} max={86400} w={150} error={fieldError("grace", "grace_s")} />
        <Select
          label="When the previous run is still going"
          data={[
            { value: "allow", label: "Run anyway" },
            { value: "skip", label: "Skip this slot" },
            { value: "queue", label: "Queue it" },
          ]}
          value={overlap}
          onChange={(v) => setOverlap(v ?? "skip")}
          allowDeselect={false}
          w={260}
        />
        <NumberInput label="End after N runs" description="Empty: never" value={maxRuns} onChange={setMaxRuns} min={1} w={160} error={fieldError("maxRuns", "max_runs")} />
      </Group>
      <Paper withBorder p="sm">
        <Stack gap="xs">
          <Text fw={500}>Runs</Text>
          <Group align="end">
            <SegmentedControl
              aria-label="Script source"
              value={source}
              onChange={(v) => setSource(v as "inline" | "library")}
              data={[
                { value: "inline", label: "A script written here" },
                { value: "library", label: "A library script" },
              ]}
            />
            {source === "inline" ? (
              <Select label="Language" data={[...LANGUAGES]} value={language} onChange={(v) => setLanguage(v ?? "bash")} allowDeselect={false} w={150} />
            ) : (
              <Select
                label="Library script"
                data={(scripts.data ?? []).map((s) => ({ value: s.id, label: `${s.name} (${s.language})` }))}
                value={scriptId}
                onChange={setScriptId}
                searchable
                w={320}
                error={fieldError("script", "action.job.params.script_id")}
              />
            )}
            <NumberInput label="Timeout (seconds)" value={timeout} onChange={setTimeoutS} min={1} max={604800} w={170} error={fieldError("timeout", "action.job.timeout_s")} />
          </Group>
          {source === "inline" && (
            <Suspense fallback={<Loading />}>
              <CodeEditor value={body} onChange={setBody} language={language} label="Scheduled script" />
            </Suspense>
          )}
          {source === "inline" && fieldError("script", "action.job.params") && (
            <Text size="sm" c="red" role="alert">
              {fieldError("script", "action.job.params")}
            </Text>
          )}
          <TargetPicker value={target} onChange={setTarget} error={fieldError("target", "action.job.target")} />
        </Stack>
      </Paper>
      <Group>
        <Button onClick={() => void save()} loading={busy}>
          {schedule ? "Save changes" : "Create schedule"}
        </Button>
      </Group>
    </Stack>
  );
}
