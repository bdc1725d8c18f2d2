// Install codes: create one (the `BRL1-…` string and the install command, shown once), list, revoke.
import {
  Alert,
  Button,
  Checkbox,
  Group,
  NumberInput,
  Paper,
  Stack,
  Table,
  TagsInput,
  Text,
  TextInput,
} from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";

import { api, unwrap } from "../../api/client";
import type { Page } from "../../api/models";
import { Loading } from "../../components/Loading";
import { ConfirmButton } from "../../components/ConfirmButton";
import { Copyable } from "../../components/Copyable";
import { ProblemAlert } from "../../components/ProblemAlert";
import { StatusBadge } from "../../components/StatusBadge";
import { failing, serverFieldError } from "../../lib/fieldErrors";
import { formatAgo } from "../../lib/format";
import { useSession } from "../../lib/session";

interface Enrollment {
  id: string;
  state: string;
  uses_allowed: number;
  uses_count: number;
  tags: string[];
  approval_required: boolean;
  note: string;
  created_by: string;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
}

const KEY = ["enrollments"];
const TAG_PATTERN = /^[a-z0-9][a-z0-9._:-]{0,63}$/;

export default function InstallCodesTab() {
  const { can } = useSession();
  const client = useQueryClient();
  const codes = useQuery({
    queryKey: KEY,
    queryFn: async () => unwrap(await api.GET("/api/v1/enrollments")) as unknown as Page<Enrollment>,
  });
  const [uses, setUses] = useState<number | string>(1);
  const [hours, setHours] = useState<number | string>(24);
  const [tags, setTags] = useState<string[]>([]);
  const [approval, setApproval] = useState(false);
  const [note, setNote] = useState("");
  const [errors, setErrors] = useState<Record<string, string | null | undefined>>({});
  const [error, setError] = useState<unknown>(null);
  const [created, setCreated] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function create() {
    const bad = tags.find((t) => !TAG_PATTERN.test(t));
    const checks = failing({
      uses: !Number.isInteger(Number(uses)) || Number(uses) < 1 || Number(uses) > 100_000 ? "1 to 100000" : null,
      hours: !Number.isInteger(Number(hours)) || Number(hours) < 1 || Number(hours) > 8760 ? "1 to 8760 hours" : null,
      tags: bad ? `"${bad}": lower-case letters, digits and . _ : -` : null,
      note: note.length > 256 ? "At most 256 characters" : null,
    });
    setErrors(checks);
    setError(null);
    if (Object.keys(checks).length) return;
    setBusy(true);
    try {
      const row = unwrap(
        await api.POST("/api/v1/enrollments", {
          body: { uses: Number(uses), expires_in_s: Number(hours) * 3600, tags, approval_required: approval, note },
        }),
      ) as unknown as { install_code: string };
      setCreated(row.install_code);
      await client.invalidateQueries({ queryKey: KEY });
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  async function revoke(row: Enrollment) {
    setError(null);
    try {
      unwrap(await api.DELETE("/api/v1/enrollments/{enrollment_id}", { params: { path: { enrollment_id: row.id } } }));
      await client.invalidateQueries({ queryKey: KEY });
    } catch (e) {
      setError(e);
    }
  }

  return (
    <Stack>
      {created && (
        <Alert color="teal" title="Install code created" withCloseButton closeButtonLabel="Dismiss" onClose={() => setCreated(null)}>
          <Stack gap="xs">
            <Text size="sm">Copy it now: the code holds a secret that is not shown again.</Text>
            <Copyable value={created} label="install code" testId="install-code" />
            <Text size="sm">Install and enroll an agent (Linux, as root):</Text>
            <Copyable
              value={`sudo borealis agent install --home /opt/borealis --code ${created}`}
              label="install command"
              testId="install-command"
            />
          </Stack>
        </Alert>
      )}
      {can("enrollments:write") && (
        <Paper withBorder p="md">
          <Group align="start">
            <NumberInput label="Uses" value={uses} onChange={setUses} min={1} max={100000} w={110} error={errors.uses ?? serverFieldError(error, "uses")} />
            <NumberInput
              label="Valid for (hours)"
              value={hours}
              onChange={setHours}
              min={1}
              max={8760}
              w={150}
              error={errors.hours ?? serverFieldError(error, "expires_in_s")}
            />
            <TagsInput label="Tags for the agents" value={tags} onChange={setTags} w={240} error={errors.tags ?? serverFieldError(error, "tags")} />
            <TextInput label="Note" value={note} onChange={(e) => setNote(e.currentTarget.value)} w={200} error={errors.note ?? serverFieldError(error, "note")} />
            <Checkbox mt={32} label="Needs approval" checked={approval} onChange={(e) => setApproval(e.currentTarget.checked)} />
            <Button mt={25} onClick={() => void create()} loading={busy}>
              Create install code
            </Button>
          </Group>
        </Paper>
      )}
      <ProblemAlert error={error} />
      <ProblemAlert error={codes.error} title="Install codes could not be read" />
      {codes.isPending ? (
        <Loading />
      ) : (
        <Table striped>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Created</Table.Th>
              <Table.Th>State</Table.Th>
              <Table.Th>Uses</Table.Th>
              <Table.Th>Tags</Table.Th>
              <Table.Th>Approval</Table.Th>
              <Table.Th>Note</Table.Th>
              <Table.Th>Expires</Table.Th>
              <Table.Th />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {(codes.data?.items ?? []).map((row) => (
              <Table.Tr key={row.id} data-testid="install-code-row">
                <Table.Td>
                  {row.created_by}, {formatAgo(row.created_at)}
                </Table.Td>
                <Table.Td>
                  <StatusBadge status={row.state} />
                </Table.Td>
                <Table.Td>
                  {row.uses_count} of {row.uses_allowed}
                </Table.Td>
                <Table.Td>{row.tags.join(", ") || "—"}</Table.Td>
                <Table.Td>{row.approval_required ? "needed" : "no"}</Table.Td>
                <Table.Td>{row.note || "—"}</Table.Td>
                <Table.Td>{new Date(row.expires_at).toLocaleString()}</Table.Td>
                <Table.Td>
                  {can("enrollments:write") && row.state === "active" && (
                    <ConfirmButton
                      size="xs"
                      title="Revoke this install code?"
                      message="No further agent can enroll with it; agents that enrolled with it stay."
                      confirmLabel="Revoke"
                      onConfirm={() => revoke(row)}
                    >
                      Revoke
                    </ConfirmButton>
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Stack>
  );
}
