// Operator accounts and their roles: create, change role, disable or enable, set a new password.
import { Button, Group, Paper, PasswordInput, Select, Stack, Table, TextInput } from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";

import { api, unwrap } from "../../api/client";
import type { Page } from "../../api/models";
import { Loading } from "../../components/Loading";
import { ProblemAlert } from "../../components/ProblemAlert";
import { failing, serverFieldError } from "../../lib/fieldErrors";
import { formatAgo } from "../../lib/format";
import { useSession } from "../../lib/session";
import { ROLES } from "./scopes";

interface User {
  id: string;
  username: string;
  role: string;
  disabled: boolean;
  created_at: string;
  last_login_at: string | null;
}

const KEY = ["users"];

export default function UsersTab() {
  const { can } = useSession();
  const client = useQueryClient();
  const users = useQuery({ queryKey: KEY, queryFn: async () => unwrap(await api.GET("/api/v1/users")) as unknown as Page<User> });
  const [username, setUsername] = useState("");
  const [role, setRole] = useState<string>("viewer");
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState<Record<string, string | null | undefined>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function create() {
    const checks = failing({
      username: username.trim() ? (username.length > 64 ? "At most 64 characters" : null) : "Give a username",
      password: password.length >= 12 ? null : "At least 12 characters",
    });
    setErrors(checks);
    setError(null);
    if (Object.keys(checks).length) return;
    setBusy(true);
    try {
      unwrap(await api.POST("/api/v1/users", { body: { username: username.trim(), role, password } }));
      setUsername("");
      setPassword("");
      await client.invalidateQueries({ queryKey: KEY });
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  async function change(user: User, body: { role?: string; disabled?: boolean }) {
    setError(null);
    try {
      // revoke_tokens only matters with a new password, which this form does not set
      unwrap(await api.PATCH("/api/v1/users/{user_id}", { params: { path: { user_id: user.id } }, body: { ...body, revoke_tokens: false } }));
      await client.invalidateQueries({ queryKey: KEY });
    } catch (e) {
      setError(e);
    }
  }

  const writable = can("users:write");
  return (
    <Stack>
      {writable && (
        <Paper withBorder p="md">
          <Group align="start">
            <TextInput label="Username" value={username} onChange={(e) => setUsername(e.currentTarget.value)} error={errors.username ?? serverFieldError(error, "username")} />
            <Select label="Role" data={ROLES} value={role} onChange={(v) => setRole(v ?? "viewer")} allowDeselect={false} w={140} error={serverFieldError(error, "role")} />
            <PasswordInput
              label="Password"
              value={password}
              onChange={(e) => setPassword(e.currentTarget.value)}
              error={errors.password ?? serverFieldError(error, "password")}
              w={220}
            />
            <Button mt={25} onClick={() => void create()} loading={busy}>
              Create user
            </Button>
          </Group>
        </Paper>
      )}
      <ProblemAlert error={error} />
      <ProblemAlert error={users.error} title="Users could not be read" />
      {users.isPending ? (
        <Loading />
      ) : (
        <Table striped>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Username</Table.Th>
              <Table.Th>Role</Table.Th>
              <Table.Th>State</Table.Th>
              <Table.Th>Last login</Table.Th>
              <Table.Th />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {(users.data?.items ?? []).map((user) => (
              <Table.Tr key={user.id}>
                <Table.Td>{user.username}</Table.Td>
                <Table.Td>
                  {writable ? (
                    <Select
                      aria-label={`Role of ${user.username}`}
                      data={ROLES}
                      value={user.role}
                      onChange={(v) => v && v !== user.role && void change(user, { role: v })}
                      allowDeselect={false}
                      w={130}
                      size="xs"
                    />
                  ) : (
                    user.role
                  )}
                </Table.Td>
                <Table.Td>{user.disabled ? "disabled" : "active"}</Table.Td>
                <Table.Td>{formatAgo(user.last_login_at)}</Table.Td>
                <Table.Td>
                  {writable && (
                    <Button size="xs" variant="light" color={user.disabled ? "teal" : "red"} onClick={() => void change(user, { disabled: !user.disabled })}>
                      {user.disabled ? "Enable" : "Disable"}
                    </Button>
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
