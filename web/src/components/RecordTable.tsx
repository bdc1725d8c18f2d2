// A table of inventory records (a list section), with optional search and a bound on rendered rows.
import { Group, Table, Text, TextInput } from "@mantine/core";
import { useDeferredValue, useMemo, useState, type ReactNode } from "react";

export type RecordRow = Record<string, unknown>;

export interface Column {
  key: string;
  label: string;
  render?: (row: RecordRow) => ReactNode;
}

const SHOWN = 300;

function cellText(value: unknown): string {
  if (value === null || value === undefined) return "—";
  if (Array.isArray(value)) return value.map(cellText).join(", ");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export function RecordTable({
  rows,
  columns,
  noun,
  searchable = false,
  testId,
}: {
  rows: RecordRow[];
  columns: Column[];
  noun: string;
  searchable?: boolean;
  testId?: string;
}) {
  const [query, setQuery] = useState("");
  const deferred = useDeferredValue(query.trim().toLowerCase());
  const matching = useMemo(
    () =>
      deferred
        ? rows.filter((row) => columns.some((c) => cellText(row[c.key]).toLowerCase().includes(deferred)))
        : rows,
    [rows, columns, deferred],
  );
  return (
    <div data-testid={testId}>
      <Group justify="space-between" mb="xs">
        {searchable ? (
          <TextInput
            aria-label={`Search ${noun}`}
            placeholder={`Search ${noun}`}
            value={query}
            onChange={(e) => setQuery(e.currentTarget.value)}
            w={280}
          />
        ) : (
          <span />
        )}
        <Text size="sm" c="dimmed" data-testid={testId ? `${testId}-count` : undefined} data-count={matching.length}>
          {matching.length} {noun}
          {matching.length !== rows.length ? ` of ${rows.length}` : ""}
          {matching.length > SHOWN ? ` (first ${SHOWN} shown; refine the search)` : ""}
        </Text>
      </Group>
      <Table.ScrollContainer minWidth={600}>
        <Table striped>
          <Table.Thead>
            <Table.Tr>
              {columns.map((c) => (
                <Table.Th key={c.key}>{c.label}</Table.Th>
              ))}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {matching.slice(0, SHOWN).map((row, index) => (
              <Table.Tr key={index}>
                {columns.map((c) => (
                  <Table.Td key={c.key}>{c.render ? c.render(row) : cellText(row[c.key])}</Table.Td>
                ))}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
    </div>
  );
}
