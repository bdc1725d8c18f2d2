// One workflow on the canvas (`/workflows/:id`); `?run=ID` shows that run on the version it ran.
import { useQuery } from "@tanstack/react-query";
import { ReactFlowProvider } from "@xyflow/react";
import { useParams, useSearchParams } from "react-router-dom";

import { api, unwrap } from "../../api/client";
import { Editor } from "../../canvas/Editor";
import { fetchRun } from "../../canvas/runOverlay";
import type { NodeType, Workflow } from "../../canvas/types";
import { Loading } from "../../components/Loading";
import { PageTitle } from "../../components/PageTitle";
import { ProblemAlert } from "../../components/ProblemAlert";

export default function WorkflowEditorPage() {
  const { id = "" } = useParams();
  const [params, setParams] = useSearchParams();
  const runId = params.get("run");
  const catalog = useQuery({
    queryKey: ["workflow-node-types"],
    queryFn: async () => (unwrap(await api.GET("/api/v1/workflow-node-types")) as unknown as { items: NodeType[] }).items,
    staleTime: Infinity,
  });
  const run = useQuery({ queryKey: ["runs", "one", runId], queryFn: () => fetchRun(runId as string), enabled: runId !== null });
  const current = useQuery({
    queryKey: ["workflows", "one", id],
    queryFn: async () => unwrap(await api.GET("/api/v1/workflows/{workflow_id}", { params: { path: { workflow_id: id }, query: {} } })) as unknown as Workflow,
  });
  // A past run is shown on the version it ran, read only.
  const pastVersion = run.data && current.data && run.data.workflow_version !== current.data.version ? run.data.workflow_version : null;
  const past = useQuery({
    queryKey: ["workflows", "one", id, pastVersion],
    enabled: pastVersion !== null,
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/workflows/{workflow_id}", { params: { path: { workflow_id: id }, query: { version: pastVersion as number } } })) as unknown as Workflow,
  });
  const workflow = pastVersion !== null ? past.data : current.data;
  const error = catalog.error ?? current.error ?? run.error ?? past.error;
  return (
    <>
      <PageTitle title={workflow ? workflow.name : "Workflow"} />
      <ProblemAlert error={error} />
      {!error && (!workflow || !catalog.data) && <Loading />}
      {/* Not waiting for the run: a run just started here is on the version shown, and unmounting the
          editor meanwhile would draw every node again. A run of another version remounts it (key). */}
      {workflow && catalog.data && (
        <ReactFlowProvider>
          <Editor
            key={`${workflow.id}-${workflow.version}`}
            workflow={workflow}
            catalog={catalog.data}
            runId={runId}
            readOnly={pastVersion !== null}
            onRunChange={(next) => setParams(next ? { run: next } : {}, { replace: false })}
          />
        </ReactFlowProvider>
      )}
    </>
  );
}
