// Run a script: a library script or one written here, its options and target; the job page shows it live.
import {
  Button,
  Checkbox,
  Group,
  NumberInput,
  Paper,
  SegmentedControl,
  Select,
  SimpleGrid,
  Stack,
  Text,
  Textarea,
} from "@mantine/core";
import { Suspense, lazy, useState } from "react";
import { useLocation, useNavigate, useSearchParams } from "react-router-dom";

import { PageTitle } from "../../components/PageTitle";
import { ProblemAlert } from "../../components/ProblemAlert";
import { Loading } from "../../components/Loading";
import { TargetPicker, targetProblem, toTarget, type TargetChoice } from "../../components/TargetPicker";
import { failing, parseEnv, serverFieldError } from "../../lib/fieldErrors";
import { submitJob, type NewJob } from "../../lib/jobs";
import { LANGUAGES, useScript, useScripts } from "../../lib/scripts";
import { useSession } from "../../lib/session";

const CodeEditor = lazy(() => import("../../components/CodeEditor"));

type Source = "inline" | "library";

function initialAgents(state: unknown, params: URLSearchParams): string[] {
  const fromState = (state as { agents?: unknown } | null)?.agents;
  if (Array.isArray(fromState)) return fromState.filter((a): a is string => typeof a === "string");
  return (params.get("agents") ?? "").split(",").filter(Boolean);
}

export default function RunPage() {
  const { can } = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  const [params] = useSearchParams();
  const scripts = useScripts(can("scripts:read"));

  const [source, setSource] = useState<Source>(params.get("script") ? "library" : "inline");
  const [scriptId, setScriptId] = useState<string | null>(params.get("script"));
  const [language, setLanguage] = useState<string>("bash");
  const [body, setBody] = useState("");
  const [args, setArgs] = useState("");
  const [envText, setEnvText] = useState("");
  const [runAs, setRunAs] = useState<"system" | "user">("system");
  const [timeoutS, setTimeoutS] = useState<number | string>(300);
  const [target, setTarget] = useState<TargetChoice>(() => ({
    kind: "agents",
    agents: initialAgents(location.state, params),
    tags: [],
  }));
  const [batch, setBatch] = useState<number | string>("");
  const [stopOnFailure, setStopOnFailure] = useState(false);
  const [errors, setErrors] = useState<Record<string, string | null | undefined>>({});
  const [serverError, setServerError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const library = useScript(source === "library" ? scriptId : null);


  if (!can("jobs:run")) {
    return (
      <Stack>
        <PageTitle title="Run a script" />
        <Text>Your role cannot run scripts. An operator or an administrator can.</Text>
      </Stack>
    );
  }

  const fieldError = (name: string, ...server: string[]) =>
    errors[name] ?? serverFieldError(serverError, ...(server.length ? server : [name]));

  async function run() {
    const env = parseEnv(envText);
    const seconds = Number(timeoutS);
    const batchSize = batch === "" ? null : Number(batch);
    const checks = failing({
      script: source === "inline" && !body.trim() ? "Write the script to run" : null,
      scriptId: source === "library" && !scriptId ? "Choose a script from the library" : null,
      env: env.error,
      timeout: !Number.isInteger(seconds) || seconds < 1 || seconds > 604800 ? "Between 1 and 604800 seconds (7 days)" : null,
      target: targetProblem(target),
      batch: batchSize !== null && (!Number.isInteger(batchSize) || batchSize < 1) ? "A whole number, 1 or more" : null,
    });
    setErrors(checks);
    setServerError(null);
    if (Object.keys(checks).length) return;
    const job: NewJob = {
      role: "script",
      params: {
        // A library script runs at the version shown; its language is the library's.
        ...(source === "inline"
          ? { language, script: body }
          : { script_id: scriptId, ...(library.data ? { script_version: library.data.version } : {}) }),
        args: args.split("\n").filter((line) => line.length > 0),
        env: env.env,
      },
      run_as: runAs,
      timeout_s: seconds,
      target: toTarget(target),
      ...(batchSize ? { batch_size: batchSize } : {}),
      stop_on_failure: stopOnFailure,
    };
    setBusy(true);
    try {
      const created = await submitJob(job);
      navigate(`/jobs/${created.id}`);
    } catch (error) {
      setServerError(error);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Stack maw={1000}>
      <PageTitle title="Run a script" />
      <ProblemAlert error={serverError} title="The job was not started" />
      <Paper withBorder p="md">
        <Stack>
          <Group align="end">
            <SegmentedControl
              aria-label="Script source"
              value={source}
              onChange={(v) => setSource(v as Source)}
              data={[
                { value: "inline", label: "Write a script" },
                { value: "library", label: "From the library", disabled: !can("scripts:read") },
              ]}
            />
            {source === "inline" ? (
              <Select
                label="Language"
                data={[...LANGUAGES]}
                value={language}
                onChange={(v) => setLanguage(v ?? "bash")}
                allowDeselect={false}
                w={160}
                error={serverFieldError(serverError, "params.language")}
              />
            ) : (
              <Select
                label="Library script"
                placeholder={scripts.isPending ? "Loading…" : "Choose a script"}
                data={(scripts.data ?? []).map((s) => ({ value: s.id, label: `${s.name} (${s.language}, v${s.version})` }))}
                value={scriptId}
                onChange={setScriptId}
                searchable
                w={360}
                error={fieldError("scriptId", "params.script_id")}
              />
            )}
          </Group>
          <ProblemAlert error={scripts.error ?? library.error} title="The library could not be read" />
          <Suspense fallback={<Loading />}>
            {source === "inline" ? (
              <CodeEditor value={body} onChange={setBody} language={language} label="Script" />
            ) : library.data ? (
              <CodeEditor value={library.data.body} language={library.data.language} label="Library script (read-only)" readOnly />
            ) : null}
          </Suspense>
          {fieldError("script", "params.script") && (
            <Text c="red" size="sm" role="alert">
              {fieldError("script", "params.script")}
            </Text>
          )}
          <SimpleGrid cols={{ base: 1, sm: 2 }}>
            <Textarea
              label="Arguments"
              description="One per line"
              autosize
              minRows={2}
              value={args}
              onChange={(e) => setArgs(e.currentTarget.value)}
              error={serverFieldError(serverError, "params.args")}
            />
            <Textarea
              label="Environment"
              description="NAME=value, one per line"
              autosize
              minRows={2}
              value={envText}
              onChange={(e) => setEnvText(e.currentTarget.value)}
              error={fieldError("env", "params.env")}
            />
          </SimpleGrid>
          <Group align="end">
            <SegmentedControl
              aria-label="Run as"
              value={runAs}
              onChange={(v) => setRunAs(v as "system" | "user")}
              data={[
                { value: "system", label: "As system" },
                { value: "user", label: "As the logged-in user" },
              ]}
            />
            <NumberInput
              label="Timeout (seconds)"
              value={timeoutS}
              onChange={setTimeoutS}
              min={1}
              max={604800}
              w={180}
              error={fieldError("timeout", "timeout_s")}
            />
          </Group>
        </Stack>
      </Paper>
      <Paper withBorder p="md">
        <Stack>
          <Text fw={500}>Target</Text>
          <TargetPicker value={target} onChange={setTarget} error={fieldError("target", "target")} />
          <Group align="end">
            <NumberInput
              label="Rolling batch size"
              description="Empty: all at once"
              value={batch}
              onChange={setBatch}
              min={1}
              w={200}
              error={fieldError("batch", "batch_size")}
            />
            <Checkbox
              label="Stop on the first failure"
              checked={stopOnFailure}
              onChange={(e) => setStopOnFailure(e.currentTarget.checked)}
            />
          </Group>
        </Stack>
      </Paper>
      <Group>
        <Button onClick={() => void run()} loading={busy}>
          Run
        </Button>
      </Group>
    </Stack>
  );
}
