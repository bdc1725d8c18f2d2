// Every workflow: its triggers (webhook, schedule and its next time, poll), last run and its status, run
// counts; create (empty or from a template), duplicate, import a JSON file, export, delete (confirmed).
import { Anchor, Badge, Button, FileButton, Group, Menu, Stack, Table, Text } from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate } from "react-router-dom";

import { api, unwrap } from "../../api/client";
import { ConfirmButton } from "../../components/ConfirmButton";
import { Loading } from "../../components/Loading";
import { PageTitle } from "../../components/PageTitle";
import { ProblemAlert } from "../../components/ProblemAlert";
import { StatusBadge } from "../../components/StatusBadge";
import { TEMPLATES } from "../../canvas/templates";
import type { Workflow, WorkflowFile } from "../../canvas/types";
import { formatAgo } from "../../lib/format";
import { useSession } from "../../lib/session";
import { notify } from "../../canvas/notify";

const EMPTY: WorkflowFile = {
  borealis_workflow: 1,
  name: "New workflow",
  description: "",
  document: { nodes: [{ id: "start", type: "trigger.manual", params: {}, ui: { x: 80, y: 120 } }], edges: [] },
};

/** A file of `borealis workflow export`, or a bare document; anything else is refused in words. */
export function readWorkflowFile(text: string, fallbackName: string): WorkflowFile {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new Error("The file is not JSON");
  }
  const file = data as Partial<WorkflowFile> & { nodes?: unknown };
  if (file && typeof file === "object" && file.document && typeof file.document === "object") {
    return { borealis_workflow: 1, name: String(file.name || fallbackName), description: String(file.description ?? ""), document: file.document };
  }
  if (file && typeof file === "object" && Array.isArray(file.nodes)) {
    return { borealis_workflow: 1, name: fallbackName, description: "", document: data as WorkflowFile["document"] };
  }
  throw new Error("The file holds no workflow (expected {name, document} or {nodes, edges})");
}

export default function WorkflowsPage() {
  const { can } = useSession();
  const client = useQueryClient();
  const navigate = useNavigate();
  const list = useQuery({
    queryKey: ["workflows", "summaries"],
    queryFn: async () => unwrap(await api.GET("/api/v1/workflow-summaries", { params: { query: { limit: 1000 } } })),
  });
  const canWrite = can("workflows:write");

  const createFrom = async (file: WorkflowFile) => {
    try {
      const made = unwrap(
        await api.POST("/api/v1/workflows", { body: { name: file.name.slice(0, 128), description: file.description.slice(0, 1024), document: file.document as never } }),
      ) as unknown as Workflow;
      if (made.hooks) sessionStorage.setItem(`borealis.hooks.${made.id}`, JSON.stringify(made.hooks));
      await client.invalidateQueries({ queryKey: ["workflows"] });
      navigate(`/workflows/${made.id}`);
    } catch (error) {
      notify("red", error instanceof Error ? error.message : String(error), "Not created");
    }
  };

  const fetchOne = async (id: string) =>
    unwrap(await api.GET("/api/v1/workflows/{workflow_id}", { params: { path: { workflow_id: id }, query: {} } })) as unknown as Workflow;

  const exportOne = async (id: string) => {
    const workflow = await fetchOne(id);
    const data: WorkflowFile = { borealis_workflow: 1, name: workflow.name, description: workflow.description, version: workflow.version, document: workflow.document };
    const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2) + "\n"], { type: "application/json" }));
    const link = document.createElement("a");
    link.href = url;
    link.download = `${workflow.name}.json`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };

  return (
    <Stack>
      <PageTitle title="Workflows">
        {canWrite && (
          <Group gap="xs">
            <FileButton
              accept="application/json,.json"
              onChange={(file) => {
                if (!file) return;
                void file.text().then(
                  (text) => createFrom(readWorkflowFile(text, file.name.replace(/\.json$/, ""))),
                  () => undefined,
                ).catch((error: unknown) => notify("red", error instanceof Error ? error.message : String(error), "Not imported"));
              }}
            >
              {(props) => (
                <Button variant="default" {...props}>
                  Import a file
                </Button>
              )}
            </FileButton>
            <Menu>
              <Menu.Target>
                <Button variant="default">From a template</Button>
              </Menu.Target>
              <Menu.Dropdown>
                {TEMPLATES.map((template) => (
                  <Menu.Item key={template.name} onClick={() => void createFrom(template)}>
                    {template.name}
                  </Menu.Item>
                ))}
              </Menu.Dropdown>
            </Menu>
            <Button onClick={() => void createFrom(EMPTY)}>New workflow</Button>
          </Group>
        )}
      </PageTitle>
      <ProblemAlert error={list.error} />
      {list.isPending && <Loading />}
      {list.data && list.data.items.length === 0 && <Text c="dimmed">No workflows yet.</Text>}
      {list.data && list.data.items.length > 0 && (
        <Table striped highlightOnHover aria-label="Workflows">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Name</Table.Th>
              <Table.Th>Triggers</Table.Th>
              <Table.Th>Last run</Table.Th>
              <Table.Th>Runs</Table.Th>
              <Table.Th>Actions</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {list.data.items.map((w) => (
              <Table.Tr key={w.id}>
                <Table.Td>
                  <Anchor component={Link} to={`/workflows/${w.id}`}>
                    {w.name}
                  </Anchor>
                  <Text size="xs" c="dimmed">
                    version {w.version}
                    {w.enabled ? "" : " · disabled"}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Group gap={4}>
                    {w.triggers.map((t) => (
                      <Badge key={t.node_id} size="sm" variant="light" tt="none">
                        {t.type === "trigger.webhook" ? "webhook" : t.type === "trigger.poll" ? `poll every ${t.interval_s ?? 300} s` : t.type.replace("trigger.", "")}
                      </Badge>
                    ))}
                    {w.schedules.map((s) => (
                      <Badge key={s.id} size="sm" variant="light" color={s.enabled ? "violet" : "gray"} tt="none">
                        {s.name}: {s.enabled && s.next_run_at ? `next ${new Date(s.next_run_at).toLocaleString()}` : "off"}
                      </Badge>
                    ))}
                  </Group>
                </Table.Td>
                <Table.Td>
                  {w.last_run ? (
                    <Group gap="xs">
                      <StatusBadge status={w.last_run.status} />
                      <Anchor component={Link} to={`/workflows/${w.id}?run=${w.last_run.id}`} size="sm">
                        {formatAgo(w.last_run.created_at)}
                      </Anchor>
                    </Group>
                  ) : (
                    <Text size="sm" c="dimmed">never</Text>
                  )}
                </Table.Td>
                <Table.Td>
                  <Anchor component={Link} to={`/workflows/${w.id}/runs`} size="sm">
                    {w.runs.total ?? 0}
                  </Anchor>
                  {(w.runs.failed ?? 0) > 0 && <Text span size="xs" c="red.8"> ({w.runs.failed} failed)</Text>}
                </Table.Td>
                <Table.Td>
                  <Group gap={4}>
                    <Button size="compact-xs" variant="default" onClick={() => void exportOne(w.id)}>
                      Export
                    </Button>
                    {canWrite && (
                      <Button
                        size="compact-xs"
                        variant="default"
                        onClick={() => void fetchOne(w.id).then((full) => createFrom({ borealis_workflow: 1, name: `${full.name} (copy)`, description: full.description, document: full.document }))}
                      >
                        Duplicate
                      </Button>
                    )}
                    {canWrite && (
                      <ConfirmButton
                        size="compact-xs"
                        title={`Delete ${w.name}?`}
                        message="The workflow, its versions and its runs are deleted. This cannot be undone."
                        confirmLabel="Delete"
                        aria-label={`Delete ${w.name}`}
                        onConfirm={async () => {
                          unwrap(await api.DELETE("/api/v1/workflows/{workflow_id}", { params: { path: { workflow_id: w.id } } }));
                          await client.invalidateQueries({ queryKey: ["workflows"] });
                        }}
                      >
                        Delete
                      </ConfirmButton>
                    )}
                  </Group>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Stack>
  );
}
