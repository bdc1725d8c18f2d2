// Settings: one tab per area (users, tokens, install codes, approvals, audit, agent versions, role
// modules), each in the URL (`/settings/<tab>`) and shown only to roles that may read it.
import { Tabs } from "@mantine/core";
import { Suspense, lazy } from "react";
import { Navigate, useNavigate, useParams } from "react-router-dom";

import { Loading } from "../../components/Loading";
import { PageTitle } from "../../components/PageTitle";
import { useSession } from "../../lib/session";

const TABS = [
  { value: "tokens", label: "API tokens", scope: "tokens:write", page: lazy(() => import("./TokensTab")) },
  { value: "install-codes", label: "Install codes", scope: "enrollments:read", page: lazy(() => import("./InstallCodesTab")) },
  { value: "approvals", label: "Waiting for approval", scope: "agents:read", page: lazy(() => import("./ApprovalsTab")) },
  { value: "users", label: "Users and roles", scope: "users:read", page: lazy(() => import("./UsersTab")) },
  { value: "audit", label: "Audit log", scope: "audit:read", page: lazy(() => import("./AuditTab")) },
  { value: "versions", label: "Agent versions", scope: "agents:read", page: lazy(() => import("./VersionsTab")) },
  { value: "roles", label: "Role modules", scope: "agents:read", page: lazy(() => import("./RolesTab")) },
] as const;

export default function SettingsPage() {
  const { can } = useSession();
  const navigate = useNavigate();
  const tab = useParams()["*"]?.split("/")[0] ?? "";
  const visible = TABS.filter((t) => can(t.scope));
  const current = visible.find((t) => t.value === tab);
  if (!current) {
    const first = visible[0];
    return first ? <Navigate to={`/settings/${first.value}`} replace /> : <PageTitle title="Settings" />;
  }
  const Page = current.page;
  return (
    <>
      <PageTitle title={`Settings · ${current.label}`} />
      <Tabs value={current.value} onChange={(value) => value && navigate(`/settings/${value}`)} keepMounted={false}>
        <Tabs.List mb="md">
          {visible.map((t) => (
            <Tabs.Tab key={t.value} value={t.value}>
              {t.label}
            </Tabs.Tab>
          ))}
        </Tabs.List>
        <Tabs.Panel value={current.value}>
          <Suspense fallback={<Loading />}>
            <Page />
          </Suspense>
        </Tabs.Panel>
      </Tabs>
    </>
  );
}
