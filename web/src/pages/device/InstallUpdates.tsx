// "Install" on the device's updates tab: an `updates` job (security only, or everything) on this agent,
// confirmed first; then the job's live page.
import { Button, Group, Modal, Stack, Text } from "@mantine/core";
import { useState } from "react";
import { useNavigate } from "react-router-dom";

import { api, unwrap } from "../../api/client";
import { ProblemAlert } from "../../components/ProblemAlert";

type Which = "security" | "all";

export function InstallUpdates({ agentId, pending, security }: { agentId: string; pending: number; security: number }) {
  const navigate = useNavigate();
  const [which, setWhich] = useState<Which | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function install(chosen: Which) {
    setBusy(true);
    setError(null);
    try {
      const job = unwrap(
        await api.POST("/api/v1/jobs", {
          body: { role: "updates", params: { action: "install", which: chosen }, target: { agents: [agentId] }, timeout_s: 3600, expires_in_s: 3600, run_as: "system", stop_on_failure: false },
        }),
      ) as unknown as { id: string };
      navigate(`/jobs/${job.id}`);
    } catch (caught) {
      setError(caught);
      setBusy(false);
    }
  }

  return (
    <>
      <Group mb="sm">
        <Button size="xs" disabled={security === 0} onClick={() => setWhich("security")}>
          Install security updates ({security})
        </Button>
        <Button size="xs" variant="default" disabled={pending === 0} onClick={() => setWhich("all")}>
          Install all ({pending})
        </Button>
      </Group>
      <Modal opened={which !== null} onClose={() => setWhich(null)} title="Install updates">
        <Stack>
          <ProblemAlert error={error} />
          <Text>
            Install {which === "security" ? `the ${security} security updates` : `all ${pending} pending updates`} on this
            machine now? The package manager runs as root; a reboot may be needed afterwards.
          </Text>
          <Group justify="end">
            <Button variant="default" onClick={() => setWhich(null)}>
              Cancel
            </Button>
            <Button loading={busy} onClick={() => which && void install(which)}>
              Install
            </Button>
          </Group>
        </Stack>
      </Modal>
    </>
  );
}
