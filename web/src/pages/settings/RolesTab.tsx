// Role modules the server distributes to agents: the list, one module's versions and agents' reports,
// uploading a new version (admins), and withdrawing one.
import { Button, Code, Group, Paper, Stack, Table, Text, TextInput } from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Suspense, lazy, useState } from "react";

import { api, unwrap } from "../../api/client";
import type { Page } from "../../api/models";
import { Loading } from "../../components/Loading";
import { ProblemAlert } from "../../components/ProblemAlert";
import { TargetPicker, targetProblem, toTarget, type TargetChoice } from "../../components/TargetPicker";
import { failing, serverFieldError } from "../../lib/fieldErrors";
import { formatAgo } from "../../lib/format";
import { useSession } from "../../lib/session";

const CodeEditor = lazy(() => import("../../components/CodeEditor"));

interface RoleModule {
  name: string;
  version: number;
  sha256: string;
  target: Record<string, unknown>;
  description: string;
  created_by: string;
  created_at: string;
  withdrawn_at: string | null;
}

interface RoleDetail extends RoleModule {
  body: string;
  agents: { agent_id: string; [key: string]: unknown }[];
}

const KEY = ["roles"];
const NAME = /^[a-z][a-z0-9_]{0,39}$/;

function Detail({ name }: { name: string }) {
  const detail = useQuery({
    queryKey: ["roles", name],
    queryFn: async () => unwrap(await api.GET("/api/v1/roles/{name}", { params: { path: { name } } })) as unknown as RoleDetail,
  });
  if (detail.isPending) return <Loading />;
  if (detail.error) return <ProblemAlert error={detail.error} />;
  return (
    <Stack gap="xs">
      <Code block mah={240} style={{ overflow: "auto" }}>
        {detail.data.body}
      </Code>
      <Text size="sm">
        Reported by {detail.data.agents.length} agent{detail.data.agents.length === 1 ? "" : "s"}
        {detail.data.agents.length ? ": " + detail.data.agents.map(({ agent_id, ...report }) => `${agent_id} ${JSON.stringify(report)}`).join("; ") : "."}
      </Text>
    </Stack>
  );
}

export default function RolesTab() {
  const { can } = useSession();
  const client = useQueryClient();
  const roles = useQuery({ queryKey: KEY, queryFn: async () => unwrap(await api.GET("/api/v1/roles")) as unknown as Page<RoleModule> });
  const [open, setOpen] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [body, setBody] = useState("");
  const [target, setTarget] = useState<TargetChoice>({ kind: "all", agents: [], tags: [] });
  const [errors, setErrors] = useState<Record<string, string | null | undefined>>({});
  const [error, setError] = useState<unknown>(null);

  async function upload() {
    const checks = failing({
      name: NAME.test(name) ? null : "Lower-case letters, digits and _, starting with a letter (at most 40)",
      body: body.trim() ? null : "Write the module",
      target: targetProblem(target),
    });
    setErrors(checks);
    setError(null);
    if (Object.keys(checks).length) return;
    try {
      unwrap(await api.POST("/api/v1/roles", { body: { name, body, description, target: toTarget(target) } }));
      setName("");
      setBody("");
      setDescription("");
      await client.invalidateQueries({ queryKey: KEY });
    } catch (e) {
      setError(e);
    }
  }

  async function withdraw(role: RoleModule) {
    setError(null);
    try {
      unwrap(await api.DELETE("/api/v1/roles/{name}", { params: { path: { name: role.name } } }));
      await client.invalidateQueries({ queryKey: KEY });
    } catch (e) {
      setError(e);
    }
  }

  const items = roles.data?.items ?? [];
  return (
    <Stack>
      <ProblemAlert error={error} />
      <ProblemAlert error={roles.error} title="Role modules could not be read" />
      {roles.isPending ? (
        <Loading />
      ) : items.length === 0 ? (
        <Text>No role module has been uploaded.</Text>
      ) : (
        <Table>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Name</Table.Th>
              <Table.Th>Version</Table.Th>
              <Table.Th>Target</Table.Th>
              <Table.Th>Description</Table.Th>
              <Table.Th>Uploaded</Table.Th>
              <Table.Th />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {items.map((role) => [
              <Table.Tr key={role.name}>
                <Table.Td>{role.name}</Table.Td>
                <Table.Td>{role.version}</Table.Td>
                <Table.Td>
                  <Code>{JSON.stringify(role.target)}</Code>
                </Table.Td>
                <Table.Td>{role.description || "—"}</Table.Td>
                <Table.Td>
                  {role.created_by}, {formatAgo(role.created_at)}
                  {role.withdrawn_at ? " (withdrawn)" : ""}
                </Table.Td>
                <Table.Td>
                  <Group gap="xs">
                    <Button size="xs" variant="default" onClick={() => setOpen(open === role.name ? null : role.name)}>
                      {open === role.name ? "Hide" : "Show"}
                    </Button>
                    {can("admin") && !role.withdrawn_at && (
                      <Button size="xs" color="red" variant="light" onClick={() => void withdraw(role)}>
                        Withdraw
                      </Button>
                    )}
                  </Group>
                </Table.Td>
              </Table.Tr>,
              open === role.name && (
                <Table.Tr key={`${role.name}-detail`}>
                  <Table.Td colSpan={6}>
                    <Detail name={role.name} />
                  </Table.Td>
                </Table.Tr>
              ),
            ])}
          </Table.Tbody>
        </Table>
      )}
      {can("admin") && (
        <Paper withBorder p="md">
          <Stack>
            <Text fw={500}>Upload a role module (a new version if the name exists)</Text>
            <Group align="start">
              <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} error={errors.name ?? serverFieldError(error, "name")} />
              <TextInput label="Description" value={description} onChange={(e) => setDescription(e.currentTarget.value)} w={360} maxLength={1024} />
            </Group>
            <Suspense fallback={<Loading />}>
              <CodeEditor value={body} onChange={setBody} language="python" label="Role module (Python)" />
            </Suspense>
            {(errors.body ?? serverFieldError(error, "body")) && (
              <Text c="red" size="sm" role="alert">
                {errors.body ?? serverFieldError(error, "body")}
              </Text>
            )}
            <TargetPicker value={target} onChange={setTarget} error={errors.target ?? serverFieldError(error, "target")} />
            <Group>
              <Button onClick={() => void upload()}>Upload role module</Button>
            </Group>
          </Stack>
        </Paper>
      )}
    </Stack>
  );
}
