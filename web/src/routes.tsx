// Every page of the console and its URL. Pages load on demand (one chunk each), so the shell stays small.
import { lazy } from "react";
import { createBrowserRouter, type RouteObject } from "react-router-dom";

import { Shell } from "./components/Shell";

const LoginPage = lazy(() => import("./pages/login/LoginPage"));
const HomePage = lazy(() => import("./pages/home/HomePage"));
const FleetPage = lazy(() => import("./pages/fleet/FleetPage"));
const DevicePage = lazy(() => import("./pages/device/DevicePage"));
const NotFoundPage = lazy(() => import("./pages/notfound/NotFoundPage"));
const RunPage = lazy(() => import("./pages/run/RunPage"));
const JobsPage = lazy(() => import("./pages/jobs/JobsPage"));
const JobPage = lazy(() => import("./pages/jobs/JobPage"));
const SettingsPage = lazy(() => import("./pages/settings/SettingsPage"));
const ScriptsPage = lazy(() => import("./pages/scripts/ScriptsPage"));
const SchedulesPage = lazy(() => import("./pages/schedules/SchedulesPage"));
const PatchingPage = lazy(() => import("./pages/patching/PatchingPage"));
const WorkflowsPage = lazy(() => import("./pages/workflows/WorkflowsPage"));
const WorkflowEditorPage = lazy(() => import("./pages/workflows/WorkflowEditorPage"));
const WorkflowRunsPage = lazy(() => import("./pages/workflows/WorkflowRunsPage"));

export const routes: RouteObject[] = [
  { path: "/login", element: <LoginPage /> },
  {
    element: <Shell />,
    children: [
      { index: true, element: <HomePage /> },
      { path: "fleet", element: <FleetPage /> },
      { path: "devices/:id", element: <DevicePage /> },
      { path: "run", element: <RunPage /> },
      { path: "jobs", element: <JobsPage /> },
      { path: "jobs/:id", element: <JobPage /> },
      { path: "scripts", element: <ScriptsPage /> },
      { path: "schedules", element: <SchedulesPage /> },
      { path: "patching", element: <PatchingPage /> },
      { path: "workflows", element: <WorkflowsPage /> },
      { path: "workflows/:id", element: <WorkflowEditorPage /> },
      { path: "workflows/:id/runs", element: <WorkflowRunsPage /> },
      { path: "settings/*", element: <SettingsPage /> },
      { path: "*", element: <NotFoundPage /> },
    ],
  },
];

export function createRouter() {
  return createBrowserRouter(routes);
}
