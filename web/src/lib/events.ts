// The operators' event stream (`/api/v1/events`): one EventSource for the whole app. Agent events patch
// the cached fleet in batches (at most every 200 ms), job and run events refresh their lists.
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";

import { api } from "../api/client";
import { FLEET_KEY, applyAgentEvents, fetchAgent, upsertAgent, type AgentEvent } from "./fleet";

const FLUSH_MS = 200;
export type StreamState = "connecting" | "live" | "reconnecting";

export function useEventStream(enabled: boolean): StreamState {
  const client = useQueryClient();
  const [state, setState] = useState<StreamState>("connecting");

  useEffect(() => {
    if (!enabled) return;
    let source: EventSource | null = null;
    let pending: AgentEvent[] = [];
    let timer: ReturnType<typeof setTimeout> | null = null;
    let hadError = false;
    let closed = false;

    const flush = () => {
      timer = null;
      const batch = pending;
      pending = [];
      for (const id of applyAgentEvents(client, batch)) {
        fetchAgent(id).then(
          (agent) => upsertAgent(client, agent),
          () => undefined, // gone or not visible: the next full read settles it
        );
      }
    };

    // Ask who we are (a 401 sends an ended session to login) and reopen while the session holds.
    const retryWhileSignedIn = () => {
      setTimeout(() => {
        if (closed) return;
        void api.GET("/api/v1/auth/me").then((result) => {
          if (result.response.ok && !closed) open();
        });
      }, 2000);
    };

    const open = () => {
      source = new EventSource("/api/v1/events");
      source.addEventListener("hello", () => {
        setState("live");
        if (hadError) void client.invalidateQueries({ queryKey: FLEET_KEY }); // events were missed
        hadError = false;
      });
      source.addEventListener("agent", (message) => {
        pending.push(JSON.parse((message as MessageEvent<string>).data) as AgentEvent);
        timer ??= setTimeout(flush, FLUSH_MS);
      });
      source.addEventListener("job", () => void client.invalidateQueries({ queryKey: ["jobs"] }));
      source.addEventListener("run", () => void client.invalidateQueries({ queryKey: ["runs"] }));
      source.addEventListener("dropped", () => {
        source?.close();
        hadError = true;
        if (!closed) setTimeout(open, 500);
      });
      // The server ended the stream because the session ended: the next request finds out and sends
      // the user to login.
      source.addEventListener("ended", () => {
        source?.close();
        hadError = true;
        setState("reconnecting");
        retryWhileSignedIn();
      });
      source.onerror = () => {
        hadError = true;
        setState("reconnecting");
        // The browser gave up (an HTTP error, not a dropped connection, which it retries by itself).
        if (source?.readyState === EventSource.CLOSED) retryWhileSignedIn();
      };
    };
    open();
    return () => {
      closed = true;
      source?.close();
      if (timer) clearTimeout(timer);
    };
  }, [client, enabled]);

  return state;
}
