// The script library: every script, one script's body (edited into a new version), its versions and a
// diff between any two, a new script, and running one.
import { Anchor, Button, Grid, Group, Paper, Select, Stack, Table, Text, TextInput } from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Suspense, lazy, useEffect, useState } from "react";
import { Link, useSearchParams } from "react-router-dom";

import { api, unwrap } from "../../api/client";
import type { Page } from "../../api/models";
import { ActorName } from "../../components/ActorName";
import { Loading } from "../../components/Loading";
import { PageTitle } from "../../components/PageTitle";
import { ConfirmButton } from "../../components/ConfirmButton";
import { ProblemAlert } from "../../components/ProblemAlert";
import { failing, serverFieldError } from "../../lib/fieldErrors";
import { formatAgo } from "../../lib/format";
import { LANGUAGES, SCRIPTS_KEY, useScript, useScripts, type Script } from "../../lib/scripts";
import { useSession } from "../../lib/session";
import { ScriptDiff } from "./ScriptDiff";

const CodeEditor = lazy(() => import("../../components/CodeEditor"));

interface VersionInfo {
  version: number;
  language: string;
  created_by: string;
  created_at: string;
}

function ScriptForm({ script, onSaved }: { script: Script | null; onSaved: (script: Script) => void }) {
  const { can } = useSession();
  const client = useQueryClient();
  const [name, setName] = useState(script?.name ?? "");
  const [language, setLanguage] = useState(script?.language ?? "bash");
  const [description, setDescription] = useState(script?.description ?? "");
  const [body, setBody] = useState(script?.body ?? "");
  const [errors, setErrors] = useState<Record<string, string | null | undefined>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const writable = can("scripts:write");

  async function save() {
    const checks = failing({
      name: name.trim() ? (name.length > 128 ? "At most 128 characters" : null) : "Give the script a name",
      body: body.trim() ? null : "Write the script",
      description: description.length > 1024 ? "At most 1024 characters" : null,
    });
    setErrors(checks);
    setError(null);
    if (Object.keys(checks).length) return;
    setBusy(true);
    try {
      const saved = script
        ? await api.PUT("/api/v1/scripts/{script_id}", {
            params: { path: { script_id: script.id } },
            body: { version: script.version, name: name.trim(), language, description, body },
          })
        : await api.POST("/api/v1/scripts", { body: { name: name.trim(), language, description, body, parameters: {} } });
      const result = unwrap(saved) as unknown as Script;
      await client.invalidateQueries({ queryKey: SCRIPTS_KEY });
      onSaved(result);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Stack>
      <ProblemAlert error={error} title={script ? "The new version was not saved" : "The script was not created"} />
      <Group align="start">
        <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} readOnly={!writable} error={errors.name ?? serverFieldError(error, "name")} w={260} />
        <Select
          label="Language"
          data={[...LANGUAGES]}
          value={language}
          onChange={(v) => setLanguage(v ?? "bash")}
          allowDeselect={false}
          readOnly={!writable}
          w={150}
          error={serverFieldError(error, "language")}
        />
        <TextInput
          label="Description"
          value={description}
          onChange={(e) => setDescription(e.currentTarget.value)}
          readOnly={!writable}
          style={{ flex: 1 }}
          error={errors.description ?? serverFieldError(error, "description")}
        />
      </Group>
      <Suspense fallback={<Loading />}>
        <CodeEditor value={body} onChange={setBody} language={language} label="Script body" readOnly={!writable} />
      </Suspense>
      {(errors.body ?? serverFieldError(error, "body")) && (
        <Text c="red" size="sm" role="alert">
          {errors.body ?? serverFieldError(error, "body")}
        </Text>
      )}
      {writable && (
        <Group>
          <Button onClick={() => void save()} loading={busy}>
            {script ? `Save as version ${script.version + 1}` : "Create script"}
          </Button>
        </Group>
      )}
    </Stack>
  );
}

function Versions({ script }: { script: Script }) {
  const versions = useQuery({
    queryKey: ["scripts", script.id, "versions"],
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/scripts/{script_id}/versions", { params: { path: { script_id: script.id } } })) as unknown as Page<VersionInfo>,
  });
  const [from, setFrom] = useState<string | null>(null);
  const [to, setTo] = useState<string | null>(null);
  const left = useScript(from ? script.id : null, from ? Number(from) : undefined);
  const right = useScript(to ? script.id : null, to ? Number(to) : undefined);
  const items = versions.data?.items ?? [];
  const options = items.map((v) => ({ value: String(v.version), label: `version ${v.version}` }));

  useEffect(() => {
    if (script.version > 1) {
      setFrom(String(script.version - 1));
      setTo(String(script.version));
    }
  }, [script.id, script.version]);

  return (
    <Stack>
      <ProblemAlert error={versions.error ?? left.error ?? right.error} />
      <Table>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Version</Table.Th>
            <Table.Th>Language</Table.Th>
            <Table.Th>By</Table.Th>
            <Table.Th>When</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {items.map((v) => (
            <Table.Tr key={v.version}>
              <Table.Td>{v.version}</Table.Td>
              <Table.Td>{v.language}</Table.Td>
              <Table.Td>
                <ActorName actor={v.created_by} />
              </Table.Td>
              <Table.Td>{formatAgo(v.created_at)}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {items.length > 1 && (
        <>
          <Group>
            <Select label="Compare" data={options} value={from} onChange={setFrom} w={150} />
            <Select label="with" data={options} value={to} onChange={setTo} w={150} />
          </Group>
          {left.data && right.data && <ScriptDiff before={left.data.body} after={right.data.body} />}
        </>
      )}
    </Stack>
  );
}

export default function ScriptsPage() {
  const { can } = useSession();
  const client = useQueryClient();
  const [params, setParams] = useSearchParams();
  const selected = params.get("id");
  const creating = params.get("new") === "1";
  const scripts = useScripts();
  const script = useScript(selected);
  const [search, setSearch] = useState("");
  const [error, setError] = useState<unknown>(null);
  const choose = (id: string | null, isNew = false) => {
    const next = new URLSearchParams();
    if (id) next.set("id", id);
    if (isNew) next.set("new", "1");
    setParams(next);
  };
  const shown = (scripts.data ?? []).filter((s) => `${s.name} ${s.description}`.toLowerCase().includes(search.trim().toLowerCase()));

  async function remove(target: Script) {
    setError(null);
    try {
      unwrap(await api.DELETE("/api/v1/scripts/{script_id}", { params: { path: { script_id: target.id } } }));
      await client.invalidateQueries({ queryKey: SCRIPTS_KEY });
      choose(null);
    } catch (e) {
      setError(e);
    }
  }

  return (
    <Stack>
      <PageTitle title="Scripts">
        {can("scripts:write") && <Button onClick={() => choose(null, true)}>New script</Button>}
      </PageTitle>
      <ProblemAlert error={scripts.error} title="The library could not be read" />
      <ProblemAlert error={error} />
      <Grid>
        <Grid.Col span={{ base: 12, md: 4 }}>
          <Stack gap="xs">
            <TextInput aria-label="Search scripts" placeholder="Search scripts" value={search} onChange={(e) => setSearch(e.currentTarget.value)} />
            {scripts.isPending ? (
              <Loading />
            ) : shown.length === 0 ? (
              <Text size="sm">No script{search ? " matches" : " yet"}.</Text>
            ) : (
              <Table highlightOnHover>
                <Table.Tbody>
                  {shown.map((s) => (
                    <Table.Tr key={s.id} data-testid="script-item">
                      <Table.Td>
                        <Anchor
                          component="button"
                          type="button"
                          onClick={() => choose(s.id)}
                          fw={s.id === selected ? 700 : 500}
                          aria-current={s.id === selected ? "true" : undefined}
                        >
                          {s.name}
                        </Anchor>
                        <Text size="xs" c="dimmed">
                          {s.language} · version {s.version}
                        </Text>
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            )}
          </Stack>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 8 }}>
          {creating ? (
            <Paper withBorder p="md">
              <ScriptForm key="new" script={null} onSaved={(s) => choose(s.id)} />
            </Paper>
          ) : script.data ? (
            <Stack>
              <Paper withBorder p="md">
                <Group justify="space-between" mb="sm">
                  <Text fw={500}>
                    {script.data.name}, version {script.data.version}
                  </Text>
                  <Group gap="xs">
                    {can("jobs:run") && (
                      <Button component={Link} to={`/run?script=${script.data.id}`} variant="light">
                        Run this script
                      </Button>
                    )}
                    {can("scripts:write") && (
                      <ConfirmButton
                        title={`Delete "${script.data.name}"?`}
                        message="The script and all its versions are deleted. Jobs keep the body they ran."
                        confirmLabel="Delete"
                        onConfirm={() => (script.data ? remove(script.data) : undefined)}
                      >
                        Delete
                      </ConfirmButton>
                    )}
                  </Group>
                </Group>
                <ScriptForm
                  key={`${script.data.id}-${script.data.version}`}
                  script={script.data}
                  onSaved={(s) => void client.invalidateQueries({ queryKey: ["scripts", s.id] })}
                />
              </Paper>
              <Paper withBorder p="md">
                <Text fw={500} mb="sm">
                  Versions
                </Text>
                <Versions script={script.data} />
              </Paper>
            </Stack>
          ) : selected ? (
            script.error ? <ProblemAlert error={script.error} /> : <Loading />
          ) : (
            <Text>Choose a script, or create one.</Text>
          )}
        </Grid.Col>
      </Grid>
    </Stack>
  );
}
