// API tokens: create one (its secret is shown once, here), list them, revoke.
import { Alert, Button, Group, MultiSelect, NumberInput, Paper, Stack, Table, Text, TextInput } from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";

import { api, unwrap } from "../../api/client";
import type { Page } from "../../api/models";
import { ActorName } from "../../components/ActorName";
import { Loading } from "../../components/Loading";
import { ConfirmButton } from "../../components/ConfirmButton";
import { Copyable } from "../../components/Copyable";
import { ProblemAlert } from "../../components/ProblemAlert";
import { failing, serverFieldError } from "../../lib/fieldErrors";
import { formatAgo } from "../../lib/format";
import { useSession } from "../../lib/session";
import { ALL_SCOPES } from "./scopes";

interface Token {
  id: string;
  name: string;
  scopes: string[];
  created_by: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
}

const KEY = ["tokens"];

export default function TokensTab() {
  const { me, can } = useSession();
  const client = useQueryClient();
  const tokens = useQuery({
    queryKey: KEY,
    queryFn: async () => unwrap(await api.GET("/api/v1/tokens")) as unknown as Page<Token>,
  });
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<string[]>([]);
  const [days, setDays] = useState<number | string>("");
  const [errors, setErrors] = useState<Record<string, string | null | undefined>>({});
  const [error, setError] = useState<unknown>(null);
  const [secret, setSecret] = useState<{ name: string; token: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const offered = can("admin") ? ALL_SCOPES : ALL_SCOPES.filter((s) => me?.scopes.includes(s));

  async function create() {
    const checks = failing({
      name: name.trim() ? (name.length > 128 ? "At most 128 characters" : null) : "Give the token a name",
      scopes: scopes.length ? null : "Choose at least one scope",
      days: days !== "" && (!Number.isInteger(Number(days)) || Number(days) < 1 || Number(days) > 1825) ? "1 to 1825 days" : null,
    });
    setErrors(checks);
    setError(null);
    if (Object.keys(checks).length) return;
    setBusy(true);
    try {
      const created = unwrap(
        await api.POST("/api/v1/tokens", {
          body: { name: name.trim(), scopes, expires_in_s: days === "" ? null : Number(days) * 86400 },
        }),
      ) as unknown as Token & { token: string };
      setSecret({ name: created.name, token: created.token });
      setName("");
      setScopes([]);
      setDays("");
      await client.invalidateQueries({ queryKey: KEY });
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  async function revoke(token: Token) {
    setError(null);
    try {
      unwrap(await api.DELETE("/api/v1/tokens/{token_id}", { params: { path: { token_id: token.id } } }));
      await client.invalidateQueries({ queryKey: KEY });
    } catch (e) {
      setError(e);
    }
  }

  return (
    <Stack>
      {secret && (
        <Alert color="teal" title={`Token "${secret.name}" created`} withCloseButton closeButtonLabel="Dismiss" onClose={() => setSecret(null)}>
          <Stack gap="xs">
            <Text size="sm">Copy the secret now: it is shown only once and cannot be read again.</Text>
            <Copyable value={secret.token} label="token secret" testId="token-secret" />
          </Stack>
        </Alert>
      )}
      <Paper withBorder p="md">
        <Group align="start">
          <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} error={errors.name ?? serverFieldError(error, "name")} w={220} />
          <MultiSelect
            label="Scopes"
            data={offered}
            value={scopes}
            onChange={setScopes}
            searchable
            w={360}
            error={errors.scopes ?? serverFieldError(error, "scopes")}
          />
          <NumberInput
            label="Expires after (days)"
            placeholder="never"
            value={days}
            onChange={setDays}
            min={1}
            max={1825}
            w={170}
            error={errors.days ?? serverFieldError(error, "expires_in_s")}
          />
          <Button mt={25} onClick={() => void create()} loading={busy}>
            Create token
          </Button>
        </Group>
      </Paper>
      <ProblemAlert error={error} />
      <ProblemAlert error={tokens.error} title="Tokens could not be read" />
      {tokens.isPending ? (
        <Loading />
      ) : (
        <Table striped>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Name</Table.Th>
              <Table.Th>Scopes</Table.Th>
              <Table.Th>Created</Table.Th>
              <Table.Th>Last used</Table.Th>
              <Table.Th>Expires</Table.Th>
              <Table.Th>State</Table.Th>
              <Table.Th />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {(tokens.data?.items ?? []).map((token) => (
              <Table.Tr key={token.id} data-testid="token-row">
                <Table.Td>{token.name}</Table.Td>
                <Table.Td>{token.scopes.join(", ")}</Table.Td>
                <Table.Td>
                  <ActorName actor={token.created_by} />, {formatAgo(token.created_at)}
                </Table.Td>
                <Table.Td>{formatAgo(token.last_used_at)}</Table.Td>
                <Table.Td>{token.expires_at ? new Date(token.expires_at).toLocaleString() : "never"}</Table.Td>
                <Table.Td>{token.revoked_at ? "revoked" : "active"}</Table.Td>
                <Table.Td>
                  {!token.revoked_at && (
                    <ConfirmButton
                      size="xs"
                      aria-label={`Revoke token ${token.name}`}
                      title={`Revoke the token "${token.name}"?`}
                      message="Every program that uses it is refused from now on. This cannot be undone."
                      confirmLabel="Revoke"
                      onConfirm={() => revoke(token)}
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
