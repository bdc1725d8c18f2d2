// Two versions of a script side by side as one line diff, added and removed lines marked in words too.
import { Box, Code, Text } from "@mantine/core";
import { useMemo } from "react";

import { diffLines } from "../../lib/diff";

const MARK = { same: " ", added: "+", removed: "-" } as const;
const COLOR = { same: undefined, added: "var(--mantine-color-teal-light)", removed: "var(--mantine-color-red-light)" };

export function ScriptDiff({ before, after }: { before: string; after: string }) {
  const lines = useMemo(() => diffLines(before, after), [before, after]);
  if (!lines) return <Text size="sm">These versions are too large to compare here.</Text>;
  const added = lines.filter((l) => l.kind === "added").length;
  const removed = lines.filter((l) => l.kind === "removed").length;
  return (
    <Box>
      <Text size="sm" mb={4} data-testid="diff-summary">
        {added} line{added === 1 ? "" : "s"} added, {removed} removed
      </Text>
      <Code block mah={400} style={{ overflow: "auto" }} data-testid="script-diff">
        {lines.map((line, index) => (
          <div key={index} style={{ background: COLOR[line.kind] }} data-kind={line.kind}>
            <span aria-label={line.kind === "same" ? undefined : line.kind}>{MARK[line.kind]}</span> {line.text}
          </div>
        ))}
      </Code>
    </Box>
  );
}
