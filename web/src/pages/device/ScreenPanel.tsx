// The device's screen, live: one viewer at a time (desktop:view), frames as MJPEG in an <img>, a
// keep-alive while the panel is open, and the session closed when the operator stops or leaves.
import { Alert, Button, Card, Group, Image, Select, Stack, Text } from "@mantine/core";
import { useEffect, useRef, useState } from "react";

import { api, unwrap } from "../../api/client";
import { ProblemAlert } from "../../components/ProblemAlert";

interface LiveSession {
  stream_id: string;
  stream_url: string;
  keepalive_url: string;
  idle_s: number;
  fps: number;
}

async function closeSession(streamId: string): Promise<void> {
  await api.DELETE("/api/v1/screen/{stream_id}", { params: { path: { stream_id: streamId } } });
}

export function ScreenPanel({ agentId, online }: { agentId: string; online: boolean }) {
  const [session, setSession] = useState<LiveSession | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [fps, setFps] = useState("8");
  const [ended, setEnded] = useState(false);
  const current = useRef<LiveSession | null>(null);

  async function start() {
    setError(null);
    setEnded(false);
    try {
      const opened = unwrap(
        await api.POST("/api/v1/agents/{agent_id}/screen", {
          params: { path: { agent_id: agentId } },
          body: { fps: Number(fps), quality: 70 },
        }),
      );
      current.current = opened;
      setSession(opened);
    } catch (caught) {
      setError(caught);
    }
  }

  async function stop() {
    const open = current.current;
    current.current = null;
    setSession(null);
    if (open) await closeSession(open.stream_id);
  }

  useEffect(() => {
    if (!session) return undefined;
    const every = Math.max(5, Math.min(30, session.idle_s / 3)) * 1000;
    const timer = window.setInterval(() => {
      void api.POST("/api/v1/screen/{stream_id}/keepalive", { params: { path: { stream_id: session.stream_id } } });
    }, every);
    return () => window.clearInterval(timer);
  }, [session]);

  useEffect(
    () => () => {
      if (current.current) void closeSession(current.current.stream_id);
    },
    [],
  );

  return (
    <Card withBorder>
      <Stack>
        <Group justify="space-between">
          <Text size="sm" c="dimmed">
            The logged-in user&apos;s screen, captured by the agent&apos;s helper in their session. Only you see this
            stream; opening it is recorded in the audit log.
          </Text>
          <Group>
            <Select
              aria-label="Frames per second"
              data={["2", "5", "8", "10"]}
              value={fps}
              onChange={(value) => setFps(value ?? "8")}
              w={90}
              disabled={session !== null}
            />
            {session ? (
              <Button color="red" variant="light" onClick={() => void stop()}>
                Stop viewing
              </Button>
            ) : (
              <Button onClick={() => void start()} disabled={!online}>
                View screen
              </Button>
            )}
          </Group>
        </Group>
        {!online && <Text c="dimmed">The device is offline.</Text>}
        <ProblemAlert error={error} />
        {ended && <Alert color="yellow">The live view ended (the agent stopped it, or it was idle).</Alert>}
        {session && (
          <Image
            src={session.stream_url}
            alt="Live screen"
            data-testid="live-screen"
            fit="contain"
            onError={() => {
              setEnded(true);
              current.current = null;
              setSession(null);
            }}
          />
        )}
      </Stack>
    </Card>
  );
}
