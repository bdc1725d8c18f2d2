// A status (agent or job) as a coloured badge with its word.
import { Badge } from "@mantine/core";

const COLORS: Record<string, string> = {
  online: "teal",
  offline: "gray",
  overdue: "orange",
  pending: "grape",
  revoked: "red",
  succeeded: "teal",
  failed: "red",
  running: "blue",
  queued: "gray",
};

/** A status in words and colour (never colour alone). */
export function StatusBadge({ status }: { status: string }) {
  return (
    <Badge color={COLORS[status] ?? "gray"} variant="light" data-status={status}>
      {status}
    </Badge>
  );
}
