// The device's screen, live: one viewer at a time (desktop:view), frames as MJPEG in an <img>, a
// keep-alive while the panel is open, and the session closed when the operator stops or leaves. With
// desktop:control (and the agent's remote_control policy) clicks and keys on the image go to the device.
import { Alert, Button, Card, Group, Image, Select, Stack, Switch, Text } from "@mantine/core";
import { type KeyboardEvent, type MouseEvent, useEffect, useRef, useState } from "react";

import { api, apiErrorFrom, unwrap } from "../../api/client";

function unwrapError(result: { error?: unknown; response: Response }) {
  return apiErrorFrom(result.response.status, result.error);
}
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

type InputEvent = Record<string, string | number>;

const NAMED_KEYS: Record<string, string> = {
  Enter: "Return",
  Backspace: "BackSpace",
  Tab: "Tab",
  Escape: "Escape",
  Delete: "Delete",
  ArrowLeft: "Left",
  ArrowRight: "Right",
  ArrowUp: "Up",
  ArrowDown: "Down",
  Home: "Home",
  End: "End",
};

/** A browser key press as a Borealis input event, or null for keys that are not sent (modifiers). */
export function keyEvent(key: string): InputEvent | null {
  if (NAMED_KEYS[key]) return { type: "key", key: NAMED_KEYS[key] };
  if (/^F([1-9]|1[0-2])$/.test(key)) return { type: "key", key };
  if (key.length === 1) return { type: "text", text: key };
  return null;
}

export function ScreenPanel({
  agentId,
  online,
  canControl,
}: {
  agentId: string;
  online: boolean;
  canControl: boolean;
}) {
  const [session, setSession] = useState<LiveSession | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [fps, setFps] = useState("8");
  const [ended, setEnded] = useState(false);
  const [control, setControl] = useState(false);
  const current = useRef<LiveSession | null>(null);

  async function send(events: InputEvent[]) {
    if (!session) return;
    const result = await api.POST("/api/v1/screen/{stream_id}/input", {
      params: { path: { stream_id: session.stream_id } },
      body: { events },
    });
    if (!result.response.ok) {
      setError(unwrapError(result));
      setControl(false);
    }
  }

  function click(event: MouseEvent<HTMLImageElement>) {
    if (!control) return;
    const image = event.currentTarget;
    const box = image.getBoundingClientRect();
    // The image is shown scaled (fit: contain): map the click back to the frame's own pixels.
    const scale = Math.min(box.width / image.naturalWidth, box.height / image.naturalHeight);
    const shownWidth = image.naturalWidth * scale;
    const shownHeight = image.naturalHeight * scale;
    const x = Math.round((event.clientX - box.left - (box.width - shownWidth) / 2) / scale);
    const y = Math.round((event.clientY - box.top - (box.height - shownHeight) / 2) / scale);
    if (x < 0 || y < 0 || x >= image.naturalWidth || y >= image.naturalHeight) return;
    void send([{ type: "click", x, y, button: event.button === 2 ? 3 : 1 }]);
  }

  function key(event: KeyboardEvent<HTMLDivElement>) {
    if (!control) return;
    const input = keyEvent(event.key);
    if (input) {
      event.preventDefault();
      void send([input]);
    }
  }

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
            {canControl && session && (
              <Switch label="Control" checked={control} onChange={(e) => setControl(e.currentTarget.checked)} />
            )}
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
          <div tabIndex={0} onKeyDown={key} aria-label="Live screen (focus to type when control is on)">
            <Image
              src={session.stream_url}
              alt="Live screen"
              data-testid="live-screen"
              fit="contain"
              style={{ cursor: control ? "crosshair" : "default" }}
              onClick={click}
              onError={() => {
                setEnded(true);
                current.current = null;
                setSession(null);
              }}
            />
          </div>
        )}
      </Stack>
    </Card>
  );
}
