// Take one screenshot of the device (a `screenshot` job as the logged-in user) and show it: needs
// jobs:run to take and desktop:view to see. The image is served by the job's image route.
import { Anchor, Button, Card, Group, Image, Select, Stack, Text } from "@mantine/core";
import { useState } from "react";
import { Link } from "react-router-dom";

import { ApiError } from "../../api/client";
import { ProblemAlert } from "../../components/ProblemAlert";
import { FINAL, fetchJob, submitJob } from "../../lib/jobs";

const POLL_MS = 300;
const WAIT_MS = 60_000;

export function Screenshot({ agentId, online }: { agentId: string; online: boolean }) {
  const [format, setFormat] = useState("png");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [shot, setShot] = useState<{ jobId: string; url: string } | null>(null);

  async function take() {
    setBusy(true);
    setError(null);
    try {
      const job = await submitJob({
        role: "screenshot",
        params: { format },
        run_as: "user",
        target: { agents: [agentId] },
        timeout_s: 60,
      });
      const deadline = Date.now() + WAIT_MS;
      for (;;) {
        const now = await fetchJob(job.id);
        const row = now.results[0];
        if (row && FINAL.has(row.status)) {
          if (row.status !== "succeeded") throw new ApiError(409, "Screenshot failed", row.error ?? row.status);
          setShot({ jobId: job.id, url: `/api/v1/jobs/${job.id}/results/${agentId}/image` });
          return;
        }
        if (Date.now() > deadline) throw new ApiError(504, "Timed out", "the screenshot did not finish in time");
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Card withBorder>
      <Stack>
        <Group justify="space-between">
          <Text size="sm" c="dimmed">
            One capture of the logged-in user&apos;s screen, kept on the server with the job.
          </Text>
          <Group>
            <Select aria-label="Image format" data={["png", "jpeg", "webp"]} value={format} onChange={(v) => setFormat(v ?? "png")} w={100} />
            <Button onClick={() => void take()} loading={busy} disabled={!online}>
              Take screenshot
            </Button>
          </Group>
        </Group>
        <ProblemAlert error={error} />
        {shot && (
          <>
            <Image src={shot.url} alt="Screenshot" data-testid="screenshot" fit="contain" />
            <Anchor component={Link} to={`/jobs/${shot.jobId}`} size="sm">
              The screenshot job
            </Anchor>
          </>
        )}
      </Stack>
    </Card>
  );
}
