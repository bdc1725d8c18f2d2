// Which agents something runs on: chosen agents, agents with every one of some tags, or all of them.
import { MultiSelect, SegmentedControl, Stack, Text } from "@mantine/core";
import { useMemo } from "react";

import { useFleet } from "../lib/fleet";
import { allTags } from "../lib/fleetView";

export type TargetKind = "agents" | "tags" | "all";

export interface TargetChoice {
  kind: TargetKind;
  agents: string[];
  tags: string[];
}

export type Target = { agents: string[] } | { tags: string[] } | { all: true };

export function toTarget(choice: TargetChoice): Target {
  if (choice.kind === "agents") return { agents: choice.agents };
  if (choice.kind === "tags") return { tags: choice.tags };
  return { all: true };
}

/** What is missing from a choice, in words, or null when it can be sent. */
export function targetProblem(choice: TargetChoice): string | null {
  if (choice.kind === "agents" && choice.agents.length === 0) return "Choose at least one agent";
  if (choice.kind === "tags" && choice.tags.length === 0) return "Choose at least one tag";
  return null;
}

export function TargetPicker({
  value,
  onChange,
  error,
  allowAgents = true,
}: {
  value: TargetChoice;
  onChange: (value: TargetChoice) => void;
  error?: string | null;
  allowAgents?: boolean;
}) {
  const fleet = useFleet();
  const active = useMemo(() => (fleet.data ?? []).filter((a) => a.status !== "pending" && a.status !== "revoked"), [fleet.data]);
  const agentOptions = useMemo(() => active.map((a) => ({ value: a.id, label: `${a.hostname} (${a.status})` })), [active]);
  const tagOptions = useMemo(() => allTags(fleet.data ?? []), [fleet.data]);
  return (
    <Stack gap="xs">
      <SegmentedControl
        aria-label="Target"
        value={value.kind}
        onChange={(kind) => onChange({ ...value, kind: kind as TargetKind })}
        data={[
          ...(allowAgents ? [{ value: "agents", label: "Agents" }] : []),
          { value: "tags", label: "Tags" },
          { value: "all", label: "All agents" },
        ]}
      />
      {value.kind === "agents" && (
        <MultiSelect
          label="Agents"
          placeholder="Search by hostname"
          data={agentOptions}
          value={value.agents}
          onChange={(agents) => onChange({ ...value, agents })}
          searchable
          limit={200}
          error={error}
        />
      )}
      {value.kind === "tags" && (
        <MultiSelect
          label="Tags (agents with every tag)"
          data={tagOptions}
          value={value.tags}
          onChange={(tags) => onChange({ ...value, tags })}
          searchable
          error={error}
        />
      )}
      {value.kind === "all" && <Text size="sm">Every active agent ({active.length} now).</Text>}
    </Stack>
  );
}
