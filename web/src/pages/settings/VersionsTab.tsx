// Agent versions: the uploaded wheels, uploading one, and rolling a version out (progress, cancel).
import { Button, FileInput, Group, NumberInput, Paper, Stack, Table, Text } from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";

import { ApiError, api, apiErrorFrom, csrf, unwrap } from "../../api/client";
import type { Page } from "../../api/models";
import { Loading } from "../../components/Loading";
import { ProblemAlert } from "../../components/ProblemAlert";
import { TargetPicker, targetProblem, toTarget, type TargetChoice } from "../../components/TargetPicker";
import { formatAgo, formatBytes } from "../../lib/format";
import { useSession } from "../../lib/session";

interface Version {
  version: string;
  filename: string;
  sha256: string;
  size: number;
  uploaded_by: string;
  uploaded_at: string;
}

interface Rollout {
  version: string;
  batch_size: number;
  counts: Record<string, number>;
  done: boolean;
  created_by: string;
  created_at: string;
}

const KEY = ["agent-versions"];
const WHEEL = /^borealis-[0-9][0-9A-Za-z.+!_-]*-py3-none-any\.whl$/;

function RolloutPanel({ version }: { version: string }) {
  const { can } = useSession();
  const client = useQueryClient();
  const key = ["agent-versions", version, "rollout"];
  const rollout = useQuery({
    queryKey: key,
    queryFn: async () => {
      const result = await api.GET("/api/v1/agent-versions/{version}/rollout", { params: { path: { version } } });
      if (result.response.status === 404) return null; // no rollout of this version yet
      return unwrap(result) as unknown as Rollout;
    },
    refetchInterval: (query) => (query.state.data && !query.state.data.done ? 2000 : false),
  });
  const [target, setTarget] = useState<TargetChoice>({ kind: "tags", agents: [], tags: [] });
  const [batch, setBatch] = useState<number | string>(10);
  const [error, setError] = useState<unknown>(null);
  const [problem, setProblem] = useState<string | null>(null);

  async function start() {
    const missing = targetProblem(target);
    setProblem(missing);
    setError(null);
    if (missing) return;
    try {
      unwrap(
        await api.POST("/api/v1/agent-versions/{version}/rollout", {
          params: { path: { version } },
          body: { target: toTarget(target), batch_size: Number(batch) || 10 },
        }),
      );
      await client.invalidateQueries({ queryKey: key });
    } catch (e) {
      setError(e);
    }
  }

  async function cancel() {
    setError(null);
    try {
      unwrap(await api.POST("/api/v1/agent-versions/{version}/rollout/cancel", { params: { path: { version } } }));
      await client.invalidateQueries({ queryKey: key });
    } catch (e) {
      setError(e);
    }
  }

  return (
    <Stack gap="xs">
      <ProblemAlert error={error ?? rollout.error} />
      {rollout.data ? (
        <Text size="sm">
          Rollout by {rollout.data.created_by}, {formatAgo(rollout.data.created_at)}, batches of {rollout.data.batch_size}
          {rollout.data.done ? " (done)" : ""}:{" "}
          {Object.entries(rollout.data.counts)
            .filter(([, n]) => n > 0)
            .map(([s, n]) => `${n} ${s}`)
            .join(", ") || "no agents"}
        </Text>
      ) : (
        !rollout.isPending && <Text size="sm">Not rolled out.</Text>
      )}
      {can("agents:update") && (
        <Group align="end">
          <TargetPicker value={target} onChange={setTarget} error={problem} />
          <NumberInput label="Batch size" value={batch} onChange={setBatch} min={1} w={120} />
          <Button onClick={() => void start()}>Roll out {version}</Button>
          {rollout.data && !rollout.data.done && (
            <Button color="red" variant="light" onClick={() => void cancel()}>
              Cancel rollout
            </Button>
          )}
        </Group>
      )}
    </Stack>
  );
}

export default function VersionsTab() {
  const { can } = useSession();
  const client = useQueryClient();
  const versions = useQuery({ queryKey: KEY, queryFn: async () => unwrap(await api.GET("/api/v1/agent-versions")) as unknown as Page<Version> });
  const [file, setFile] = useState<File | null>(null);
  const [fileError, setFileError] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [open, setOpen] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function upload() {
    const problem = !file ? "Choose a wheel" : !WHEEL.test(file.name) ? "A file named borealis-<version>-py3-none-any.whl" : null;
    setFileError(problem);
    setError(null);
    if (problem || !file) return;
    setBusy(true);
    try {
      // The wheel is the raw request body, which the typed client does not send; same session rules.
      const response = await fetch(`/api/v1/agent-versions?filename=${encodeURIComponent(file.name)}`, {
        method: "POST",
        body: file,
        credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf() ?? "", "Content-Type": "application/octet-stream" },
      });
      if (!response.ok) throw apiErrorFrom(response.status, await response.json().catch(() => null));
      setFile(null);
      await client.invalidateQueries({ queryKey: KEY });
    } catch (e) {
      setError(e instanceof ApiError ? e : new Error(String(e)));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Stack>
      {can("agents:update") && (
        <Paper withBorder p="md">
          <Group align="start">
            <FileInput label="Agent wheel" description="borealis-X.Y.Z-py3-none-any.whl" value={file} onChange={setFile} accept=".whl" w={360} error={fileError} clearable />
            <Button mt={25} onClick={() => void upload()} loading={busy}>
              Upload
            </Button>
          </Group>
        </Paper>
      )}
      <ProblemAlert error={error} title="The version was not uploaded" />
      <ProblemAlert error={versions.error} title="Agent versions could not be read" />
      {versions.isPending ? (
        <Loading />
      ) : (versions.data?.items ?? []).length === 0 ? (
        <Text>No agent version has been uploaded.</Text>
      ) : (
        <Table>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Version</Table.Th>
              <Table.Th>Size</Table.Th>
              <Table.Th>sha256</Table.Th>
              <Table.Th>Uploaded</Table.Th>
              <Table.Th />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {(versions.data?.items ?? []).map((v) => [
              <Table.Tr key={v.version}>
                <Table.Td>{v.version}</Table.Td>
                <Table.Td>{formatBytes(v.size)}</Table.Td>
                <Table.Td ff="monospace">{v.sha256.slice(0, 16)}…</Table.Td>
                <Table.Td>
                  {v.uploaded_by}, {formatAgo(v.uploaded_at)}
                </Table.Td>
                <Table.Td>
                  <Button size="xs" variant="default" onClick={() => setOpen(open === v.version ? null : v.version)}>
                    {open === v.version ? "Hide rollout" : "Rollout"}
                  </Button>
                </Table.Td>
              </Table.Tr>,
              open === v.version && (
                <Table.Tr key={`${v.version}-rollout`}>
                  <Table.Td colSpan={5}>
                    <RolloutPanel version={v.version} />
                  </Table.Td>
                </Table.Tr>
              ),
            ])}
          </Table.Tbody>
        </Table>
      )}
    </Stack>
  );
}
