// The device at a glance: system, uptime, disks with bars, network, who is logged in.
import { Card, Group, Progress, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";

import type { Agent, Inventory } from "../../api/models";
import { StatusBadge } from "../../components/StatusBadge";
import { formatAgo, formatBytes, formatUptime } from "../../lib/format";

type Row = Record<string, unknown>;

function dataOf(inventory: Inventory | undefined, section: string): unknown {
  return inventory?.sections[section]?.data ?? null;
}

export function listOf(inventory: Inventory | undefined, section: string): Row[] {
  const data = dataOf(inventory, section);
  return Array.isArray(data) ? (data as Row[]) : [];
}

function Fact({ label, value }: { label: string; value: unknown }) {
  return (
    <Group justify="space-between" wrap="nowrap" gap="xs">
      <Text size="sm" c="dimmed">
        {label}
      </Text>
      <Text size="sm" ta="right">
        {value === null || value === undefined || value === "" ? "—" : String(value)}
      </Text>
    </Group>
  );
}

export function Overview({ agent, inventory }: { agent: Agent; inventory: Inventory | undefined }) {
  const system = (dataOf(inventory, "system") ?? {}) as Row;
  const cpu = (dataOf(inventory, "cpu") ?? {}) as Row;
  const memory = (dataOf(inventory, "memory") ?? {}) as Row;
  const disks = listOf(inventory, "disks");
  const network = listOf(inventory, "network").filter((n) => n.name !== "lo");
  const users = listOf(inventory, "users");
  return (
    <SimpleGrid cols={{ base: 1, md: 2 }}>
      <Card withBorder>
        <Title order={3} size="h5" mb="xs">
          System
        </Title>
        <Stack gap={4}>
          <Group justify="space-between">
            <Text size="sm" c="dimmed">
              Status
            </Text>
            <StatusBadge status={agent.status} />
          </Group>
          <Fact label="Operating system" value={system.os_pretty_name ?? [agent.os, agent.os_version].filter(Boolean).join(" ")} />
          <Fact label="Kernel" value={system.kernel} />
          <Fact label="Architecture" value={system.arch ?? agent.arch} />
          <Fact label="Uptime" value={formatUptime(system.boot_time as string | undefined)} />
          <Fact label="Model" value={[system.manufacturer, system.model].filter(Boolean).join(" ")} />
          <Fact label="CPU" value={cpu.model ? `${cpu.model} (${cpu.logical_cores ?? "?"} threads)` : null} />
          <Fact label="Memory" value={memory.total_bytes ? `${formatBytes(memory.used_bytes as number)} of ${formatBytes(memory.total_bytes as number)}` : null} />
          <Fact label="Agent version" value={agent.version} />
          <Fact label="Last seen" value={formatAgo(agent.last_seen)} />
          <Fact label="Tags" value={agent.tags.join(", ")} />
        </Stack>
      </Card>
      <Card withBorder>
        <Title order={3} size="h5" mb="xs">
          Disks
        </Title>
        <Stack gap="xs">
          {disks.length === 0 && <Text size="sm" c="dimmed">No disk data yet.</Text>}
          {disks.map((disk) => {
            const pct = Number(disk.percent ?? 0);
            return (
              <div key={String(disk.mountpoint)}>
                <Group justify="space-between">
                  <Text size="sm">{String(disk.mountpoint)}</Text>
                  <Text size="sm" c="dimmed">
                    {formatBytes(disk.used_bytes as number)} of {formatBytes(disk.total_bytes as number)} ({pct} %)
                  </Text>
                </Group>
                <Progress value={pct} color={pct >= 90 ? "red" : pct >= 75 ? "orange" : "blue"} aria-label={`${String(disk.mountpoint)} ${pct} % used`} />
              </div>
            );
          })}
        </Stack>
      </Card>
      <Card withBorder>
        <Title order={3} size="h5" mb="xs">
          Network
        </Title>
        <Table>
          <Table.Tbody>
            {network.map((nic) => (
              <Table.Tr key={String(nic.name)}>
                <Table.Td>{String(nic.name)}</Table.Td>
                <Table.Td>
                  {Array.isArray(nic.addresses)
                    ? (nic.addresses as Row[]).map((a) => String(a.address)).join(", ")
                    : "—"}
                </Table.Td>
                <Table.Td>{nic.up ? "up" : "down"}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Card>
      <Card withBorder>
        <Title order={3} size="h5" mb="xs">
          Logged in
        </Title>
        {users.length === 0 ? (
          <Text size="sm" c="dimmed">
            Nobody is logged in.
          </Text>
        ) : (
          <Stack gap={4}>
            {users.map((user, index) => (
              <Fact key={index} label={String(user.name)} value={[user.terminal, user.host].filter(Boolean).join(" from ")} />
            ))}
          </Stack>
        )}
      </Card>
    </SimpleGrid>
  );
}
