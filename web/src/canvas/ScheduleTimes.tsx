// A schedule trigger's schedules: the schedules page's entries that start this workflow, with their next time.
import { Anchor, Stack, Text } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router-dom";

import { api, unwrap } from "../api/client";

export function ScheduleTimes({ workflowId }: { workflowId: string }) {
  const summaries = useQuery({
    queryKey: ["workflows", "summaries"],
    queryFn: async () => unwrap(await api.GET("/api/v1/workflow-summaries", { params: { query: { limit: 1000 } } })),
  });
  const schedules = summaries.data?.items.find((w) => w.id === workflowId)?.schedules ?? [];
  return (
    <Stack gap={2} data-testid="schedule-times">
      <Text size="xs" fw={600}>
        Schedules that start this workflow
      </Text>
      {schedules.length === 0 && (
        <Text size="xs" c="dimmed">
          None yet: add one on the schedules page with the action “workflow”.
        </Text>
      )}
      {schedules.map((s) => (
        <Text key={s.id} size="xs">
          {s.name}: {s.enabled && s.next_run_at ? `next ${new Date(s.next_run_at).toLocaleString()}` : "disabled or ended"}
        </Text>
      ))}
      <Anchor component={Link} to="/schedules" size="xs">
        Open the schedules page
      </Anchor>
    </Stack>
  );
}
