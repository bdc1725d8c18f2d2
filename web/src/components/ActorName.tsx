// Who did it, by name: records keep actor ids (`user:<id>`, `token:<id>`, `schedule:<id>`…), the server
// says whose they are (`GET /api/v1/actors`, batched by lib/actors); each name is cached for 5 minutes.
import { Text, Tooltip } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { actorName } from "../lib/actors";

const KINDS: Record<string, string> = { user: "user", token: "API token", agent: "agent", schedule: "schedule", workflow: "workflow" };

function fallback(actor: string): string {
  const [kind = "", ident = ""] = actor.split(":", 2);
  return ident ? `${KINDS[kind] ?? kind} …${ident.slice(-8)}` : actor;
}

export function useActorName(actor: string): string | null | undefined {
  const found = useQuery({
    queryKey: ["actor", actor],
    queryFn: () => actorName(actor),
    staleTime: 5 * 60_000,
    enabled: actor.length > 0,
  });
  return found.data;
}

/** The actor's name, with its kind and id on hover; the short id while loading or when it is gone. */
export function ActorName({ actor }: { actor: string }) {
  const name = useActorName(actor);
  const kind = KINDS[actor.split(":", 1)[0] ?? ""];
  const label = name ? (kind && kind !== "user" ? `${name} (${kind})` : name) : fallback(actor);
  return (
    <Tooltip label={name === null ? `${actor} (no longer exists)` : actor} openDelay={300}>
      <Text span inherit data-actor={actor}>
        {label}
      </Text>
    </Tooltip>
  );
}
