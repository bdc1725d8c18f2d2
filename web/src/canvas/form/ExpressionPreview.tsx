// The value an expression gives on the last run's data, computed by the server's own evaluator
// (POST /api/v1/workflow-expressions/preview), and the names an expression can read.
import { Badge, Code, Group, Text } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { useQuery } from "@tanstack/react-query";

import { api, unwrap } from "../../api/client";

export interface PreviewData {
  json?: unknown;
  items?: unknown[];
  nodes?: Record<string, unknown>;
  trigger?: Record<string, unknown>;
  run?: Record<string, unknown>;
}

export interface FormContext {
  /** Parameters that are bare JMESPath (no braces), such as a condition. */
  bareFields: Set<string>;
  /** The data the node had in the last run shown, or null when there is none. */
  data: PreviewData | null;
  /** The names in scope: `json`, `items`, `nodes.<earlier id>.output`, `trigger`, `run`. */
  names: string[];
}

const MAX_SHOWN = 400;

export function ExpressionPreview({ text, mode, context }: { text: string; mode: "template" | "expression" | "condition"; context: FormContext }) {
  const [debounced] = useDebouncedValue(text, 250);
  const preview = useQuery({
    queryKey: ["expression-preview", mode, debounced, context.data],
    enabled: context.data !== null && debounced.trim().length > 0,
    queryFn: async () =>
      unwrap(
        await api.POST("/api/v1/workflow-expressions/preview", {
          body: { text: debounced, mode, data: (context.data ?? {}) as never },
        }),
      ),
    staleTime: 60_000,
  });
  let shown: string;
  if (context.data === null) shown = "run the workflow once to see the value this gives";
  else if (preview.isError) shown = preview.error.message;
  else if (!preview.data) shown = "…";
  else if (!preview.data.ok) shown = preview.data.error ?? "fails";
  else shown = JSON.stringify(preview.data.value) ?? "null";
  const failed = preview.data?.ok === false;
  return (
    <div data-testid="expression-preview">
      <Group gap={4} wrap="wrap">
        <Text size="xs" c="dimmed">
          In scope:
        </Text>
        {context.names.map((name) => (
          <Badge key={name} size="xs" variant="light" tt="none">
            {name}
          </Badge>
        ))}
      </Group>
      <Text size="xs" c={failed ? "red.8" : undefined}>
        {context.data === null ? "" : "Gives: "}
        <Code>{shown.length > MAX_SHOWN ? `${shown.slice(0, MAX_SHOWN)}…` : shown}</Code>
      </Text>
    </div>
  );
}
