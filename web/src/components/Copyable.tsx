import { Button, Code, CopyButton, Group } from "@mantine/core";

/** A value shown in full (wrapped, never cut) with a button that copies it. */
export function Copyable({ value, label, testId }: { value: string; label: string; testId: string }) {
  return (
    <Group wrap="nowrap" align="start">
      <Code block style={{ flex: 1, wordBreak: "break-all", whiteSpace: "pre-wrap" }} data-testid={testId}>
        {value}
      </Code>
      <CopyButton value={value}>
        {({ copied, copy }) => (
          <Button size="xs" variant="light" onClick={copy} aria-label={`Copy the ${label}`}>
            {copied ? "Copied" : "Copy"}
          </Button>
        )}
      </CopyButton>
    </Group>
  );
}
