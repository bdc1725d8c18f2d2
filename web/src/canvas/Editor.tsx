// The workflow editor: the canvas (@xyflow/react) with the palette, the inspector of the selected node,
// undo/redo, copy/paste, automatic layout, save as a new version (a stale version is a conflict), the
// server's problems pinned on nodes and fields, and runs watched live on the canvas.
import { Alert, Badge, Box, Button, Group, Kbd, Modal, Stack, Table, Tabs, Text, Textarea, TextInput } from "@mantine/core";
import { useQueryClient } from "@tanstack/react-query";
import {
  applyEdgeChanges,
  applyNodeChanges,
  Background,
  Controls,
  MiniMap,
  ReactFlow,
  useNodesInitialized,
  useReactFlow,
  type Connection,
  type EdgeChange,
  type NodeChange,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useBlocker, useNavigate } from "react-router-dom";

import { api, ApiError, unwrap } from "../api/client";
import { StatusBadge } from "../components/StatusBadge";
import { useSession } from "../lib/session";
import "./canvas.css";
import { copySelection, pasted } from "./clipboard";
import { BARE_FIELDS, Inspector } from "./Inspector";
import type { FormContext, PreviewData } from "./form/ExpressionPreview";
import { connectionProblem, defaultParams, edgeFromDoc, freeId, layout, toDocument, toFlow, type FlowEdge, type FlowNode } from "./graph";
import { emptyHistory, record, redo, snapshot, undo, type History, type Snapshot } from "./history";
import { NodeRunPanel } from "./NodeRunPanel";
import { NodeTypesContext } from "./nodeTypesContext";
import { Palette, DRAG_TYPE } from "./Palette";
import { useRunOverlay, withProgress, type ProgressNode } from "./runOverlay";
import type { DocNode, DocProblem, NodeType, Workflow, WorkflowFile } from "./types";
import { WorkflowNode } from "./WorkflowNode";
import { notify } from "./notify";

const FLOW_NODE_TYPES = { wf: WorkflowNode };

export const SHORTCUTS: [string, string][] = [
  ["/", "search the palette; Enter adds the first match (beside the selected node)"],
  ["Esc", "leave a field for the canvas"],
  ["Ctrl+S", "save"],
  ["Ctrl+Z / Ctrl+Shift+Z or Ctrl+Y", "undo / redo"],
  ["Ctrl+C / Ctrl+V", "copy / paste the selected nodes (also into another workflow)"],
  ["Delete or Backspace", "delete the selected nodes and edges"],
  ["Shift+drag, Ctrl+click", "select several"],
  ["L", "automatic layout"],
  ["F", "zoom to fit"],
  ["?", "this help"],
];

export function exportFile(workflow: Pick<Workflow, "name" | "description" | "version">, document: WorkflowFile["document"]): WorkflowFile {
  return { borealis_workflow: 1, name: workflow.name, description: workflow.description, version: workflow.version, document };
}

function download(name: string, data: unknown): void {
  const blob = new Blob([JSON.stringify(data, null, 2) + "\n"], { type: "application/json" });
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function typing(target: EventTarget | null): boolean {
  const element = target as HTMLElement | null;
  return !!element && (element.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(element.tagName));
}

export function Editor({
  workflow,
  catalog,
  runId,
  onRunChange,
  readOnly,
}: {
  workflow: Workflow;
  catalog: NodeType[];
  runId: string | null;
  onRunChange: (runId: string | null) => void;
  readOnly: boolean;
}) {
  const { can } = useSession();
  const client = useQueryClient();
  const navigate = useNavigate();
  const flow = useReactFlow<FlowNode, FlowEdge>();
  const types = useMemo(() => new Map(catalog.map((t) => [t.type, t])), [catalog]);
  const initial = useMemo(() => toFlow(workflow.document), [workflow.document]);
  const [nodes, setNodes] = useState<FlowNode[]>(initial.nodes);
  const [edges, setEdges] = useState<FlowEdge[]>(initial.edges);
  const [name, setName] = useState(workflow.name);
  const [base, setBase] = useState(workflow);
  const [history, setHistory] = useState<History>(emptyHistory);
  const [problems, setProblems] = useState<DocProblem[]>([]);
  const [saveError, setSaveError] = useState<string | null>(null);
  const [conflict, setConflict] = useState(false);
  const [saving, setSaving] = useState(false);
  const [help, setHelp] = useState(false);
  const [runOpen, setRunOpen] = useState(false);
  const [runInput, setRunInput] = useState("{}");
  const [runError, setRunError] = useState<string | null>(null);
  const [hooks, setHooks] = useState<Record<string, string>>(() => {
    const kept = sessionStorage.getItem(`borealis.hooks.${workflow.id}`);
    return { ...(kept ? (JSON.parse(kept) as Record<string, string>) : {}), ...(workflow.hooks ?? {}) };
  });
  const [panel, setPanel] = useState<string | null>("node");
  const searchRef = useRef<HTMLInputElement>(null);
  const dragStart = useRef<Snapshot | null>(null);
  const overlay = useRunOverlay(runId);
  // Fit the whole graph once its nodes have their sizes (the `fitView` prop can run before that).
  const measured = useNodesInitialized();
  const fitted = useRef(false);
  useEffect(() => {
    if (measured && !fitted.current) {
      fitted.current = true;
      // After the layout has settled: a fit against a container not sized yet gives a wild zoom.
      requestAnimationFrame(() => requestAnimationFrame(() => void flow.fitView({ maxZoom: 1.2 })));
    }
  }, [measured, flow]);

  const selected = nodes.filter((n) => n.selected);
  const selectedNode = selected.length === 1 ? selected[0] : undefined;
  const documentNow = useMemo(() => toDocument(nodes, edges, base.document.settings), [nodes, edges, base.document.settings]);
  const savedText = useMemo(() => JSON.stringify({ name: base.name, document: toDocument(toFlow(base.document).nodes, toFlow(base.document).edges, base.document.settings) }), [base]);
  const dirty = !readOnly && JSON.stringify({ name, document: documentNow }) !== savedText;

  // Unsaved changes are guarded: leaving the page asks, closing the tab asks.
  const blocker = useBlocker(({ currentLocation, nextLocation }) => dirty && currentLocation.pathname !== nextLocation.pathname);
  useEffect(() => {
    if (!dirty) return;
    const warn = (e: BeforeUnloadEvent) => e.preventDefault();
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty]);

  // Run states and problems go into the nodes' data (a node re-renders only when its own data changes).
  const problemsByNode = useMemo(() => {
    const map = new Map<string, DocProblem[]>();
    for (const p of problems) if (p.node) map.set(p.node, [...(map.get(p.node) ?? []), p]);
    return map;
  }, [problems]);
  const runPhase = !overlay.run ? "none" : overlay.live ? "live" : "final";
  const progressNodes = useMemo<ProgressNode[]>(
    () =>
      nodes.map((n) => {
        const outputs = types.get(n.data.doc.type)?.outputs ?? [];
        return { id: n.id, tries: (n.data.doc.settings?.retries ?? 0) + 1, branches: outputs.length > 1 || n.data.doc.settings?.on_error === "error_port" };
      }),
    // Only what the progress reads: moving a node must not recompute every node's state.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [nodes.map((n) => `${n.id}:${n.data.doc.type}:${n.data.doc.settings?.retries ?? 0}:${n.data.doc.settings?.on_error ?? ""}`).join(","), types],
  );
  const states = useMemo(() => withProgress(overlay.states, progressNodes, edges, runPhase), [overlay.states, progressNodes, edges, runPhase]);
  // The node given to the canvas last time, kept while neither the node nor its state changed: a new
  // object for every node with a state on each event would render every node again on every event.
  const shownBefore = useRef(new Map<string, { base: FlowNode; shown: FlowNode }>());
  const shownNodes = useMemo(() => {
    const kept = new Map<string, { base: FlowNode; shown: FlowNode }>();
    const out = nodes.map((node) => {
      const state = states.get(node.id);
      const nodeProblems = problemsByNode.get(node.id);
      if (!state && !nodeProblems && !node.data.runStatus && !node.data.problems) return node;
      if (node.data.runStatus === state?.status && node.data.attempts === state?.attempts && node.data.problems === nodeProblems) return node;
      const before = shownBefore.current.get(node.id);
      const shown =
        before && before.base === node && before.shown.data.runStatus === state?.status && before.shown.data.attempts === state?.attempts && before.shown.data.problems === nodeProblems
          ? before.shown
          : { ...node, data: { ...node.data, runStatus: state?.status, attempts: state?.attempts, problems: nodeProblems } };
      kept.set(node.id, { base: node, shown });
      return shown;
    });
    shownBefore.current = kept;
    return out;
  }, [nodes, states, problemsByNode]);

  const commit = useCallback(() => setHistory((h) => record(h, snapshot(nodes, edges))), [nodes, edges]);
  const show = (shot: Snapshot) => {
    setNodes(shot.nodes);
    setEdges(shot.edges);
  };
  const doUndo = () => {
    const result = undo(history, snapshot(nodes, edges));
    if (result) {
      setHistory(result.history);
      show(result.shown);
    }
  };
  const doRedo = () => {
    const result = redo(history, snapshot(nodes, edges));
    if (result) {
      setHistory(result.history);
      show(result.shown);
    }
  };

  const addNode = (type: NodeType, position?: { x: number; y: number }) => {
    if (readOnly) return;
    commit();
    const id = freeId(type.type.split(".").pop() ?? "node", nodes.map((n) => n.id));
    // Beside the selected node (the next step of a chain), else in the middle of the view.
    const beside = nodes.filter((n) => n.selected);
    const last = beside.length === 1 ? beside[0] : undefined;
    const at = position ?? (last ? { x: last.position.x + 260, y: last.position.y } : flow.screenToFlowPosition({ x: window.innerWidth / 2, y: window.innerHeight / 2 }));
    const doc: DocNode = { id, type: type.type, params: defaultParams(type) };
    setNodes((all) => [...all.map((n) => ({ ...n, selected: false })), { id, type: "wf", position: at, data: { doc }, selected: true }]);
  };

  const changeNode = (next: DocNode) => {
    setNodes((all) => all.map((n) => (n.id === next.id ? { ...n, data: { ...n.data, doc: next } } : n)));
  };

  const onNodesChange = (changes: NodeChange<FlowNode>[]) => {
    if (readOnly) changes = changes.filter((c) => c.type === "select" || c.type === "dimensions");
    if (changes.some((c) => c.type === "remove")) commit();
    setNodes((all) => applyNodeChanges(changes, all));
  };
  const onEdgesChange = (changes: EdgeChange<FlowEdge>[]) => {
    if (readOnly) changes = changes.filter((c) => c.type === "select");
    if (changes.some((c) => c.type === "remove")) commit();
    setEdges((all) => applyEdgeChanges(changes, all));
  };
  const onConnect = (connection: Connection) => {
    const problem = connectionProblem(connection, nodes, edges, types);
    if (problem) {
      notify("red", `Not connected: ${problem}`);
      return;
    }
    commit();
    const id = freeId("e", edges.map((e) => e.id));
    setEdges((all) => [
      ...all,
      edgeFromDoc({ id, source: connection.source, source_port: connection.sourceHandle ?? "main", target: connection.target, target_port: connection.targetHandle ?? "main" }),
    ]);
  };

  const doLayout = () => {
    commit();
    setNodes((all) => layout(all, edges));
    setTimeout(() => void flow.fitView({ duration: 200 }), 50);
  };

  const save = async (asNew = false) => {
    setSaving(true);
    setSaveError(null);
    try {
      let saved: Workflow;
      if (asNew) {
        saved = unwrap(await api.POST("/api/v1/workflows", { body: { name: `${name} (copy)`, description: base.description, document: documentNow as never } })) as unknown as Workflow;
      } else {
        saved = unwrap(
          await api.PUT("/api/v1/workflows/{workflow_id}", { params: { path: { workflow_id: base.id } }, body: { version: base.version, name, document: documentNow as never } }),
        ) as unknown as Workflow;
      }
      setProblems([]);
      setConflict(false);
      if (saved.hooks) {
        const kept = { ...(asNew ? {} : hooks), ...saved.hooks };
        sessionStorage.setItem(`borealis.hooks.${saved.id}`, JSON.stringify(kept));
        setHooks(kept);
      }
      void client.invalidateQueries({ queryKey: ["workflows"] });
      notify("teal", `Saved version ${saved.version}`);
      if (asNew) {
        setBase({ ...saved, name, document: saved.document });
        navigate(`/workflows/${saved.id}`, { replace: true });
      } else setBase(saved);
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) setConflict(true);
      else if (error instanceof ApiError) {
        setSaveError(error.message);
        // The 400's `errors` name the node (or edge) and the field of each problem.
        setProblems(
          error.fields.map((f) => {
            const named = f as Partial<DocProblem> & { field: string; message: string };
            return { node: named.node ?? null, edge: named.edge ?? null, field: named.field, message: named.message };
          }),
        );
      } else setSaveError(String(error));
    } finally {
      setSaving(false);
    }
  };

  const reload = async () => {
    const fresh = unwrap(await api.GET("/api/v1/workflows/{workflow_id}", { params: { path: { workflow_id: base.id }, query: {} } })) as unknown as Workflow;
    const flowNow = toFlow(fresh.document);
    setBase(fresh);
    setName(fresh.name);
    setNodes(flowNow.nodes);
    setEdges(flowNow.edges);
    setHistory(emptyHistory());
    setProblems([]);
    setConflict(false);
  };

  const startRun = async () => {
    setRunError(null);
    let input: unknown;
    try {
      input = JSON.parse(runInput || "{}");
    } catch {
      setRunError("The input is not JSON");
      return;
    }
    const trigger = nodes.find((n) => n.data.doc.type.startsWith("trigger."));
    try {
      const run = unwrap(
        await api.POST("/api/v1/workflows/{workflow_id}/runs", {
          params: { path: { workflow_id: base.id } },
          body: { input: input as never, node_id: trigger?.id },
        }),
      ) as unknown as { id: string };
      setRunOpen(false);
      onRunChange(run.id);
    } catch (error) {
      setRunError(error instanceof Error ? error.message : String(error));
    }
  };

  const rotate = async (nodeId: string) => {
    const result = unwrap(
      await api.POST("/api/v1/workflows/{workflow_id}/hooks/{node_id}/rotate", { params: { path: { workflow_id: base.id, node_id: nodeId } } }),
    ) as unknown as { url: string };
    const kept = { ...hooks, [nodeId]: result.url };
    sessionStorage.setItem(`borealis.hooks.${base.id}`, JSON.stringify(kept));
    setHooks(kept);
  };

  // Keyboard shortcuts (not while typing in a field, except Ctrl+S).
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const mod = e.ctrlKey || e.metaKey;
      if (mod && e.key.toLowerCase() === "s") {
        e.preventDefault();
        if (!readOnly && can("workflows:write")) void save();
        return;
      }
      if (typing(e.target)) {
        // Escape leaves a field for the canvas, where the shortcuts work again.
        if (e.key === "Escape" && !e.defaultPrevented) (e.target as HTMLElement).blur();
        return;
      }
      if (mod && e.key.toLowerCase() === "z") {
        e.preventDefault();
        if (e.shiftKey) doRedo();
        else doUndo();
      } else if (mod && e.key.toLowerCase() === "y") {
        e.preventDefault();
        doRedo();
      } else if (mod && e.key.toLowerCase() === "c") {
        copySelection(nodes, edges);
      } else if (mod && e.key.toLowerCase() === "v" && !readOnly) {
        const copy = pasted(nodes.map((n) => n.id), edges.map((x) => x.id));
        if (!copy) return;
        commit();
        const added = toFlow({ nodes: copy.nodes, edges: copy.edges });
        setNodes((all) => [...all.map((n) => ({ ...n, selected: false })), ...added.nodes.map((n) => ({ ...n, selected: true }))]);
        setEdges((all) => [...all, ...added.edges]);
      } else if (e.key === "/") {
        e.preventDefault();
        searchRef.current?.focus();
      } else if (e.key === "?") setHelp(true);
      else if (e.key.toLowerCase() === "l" && !mod && !readOnly) doLayout();
      else if (e.key.toLowerCase() === "f" && !mod) void flow.fitView({ duration: 200 });
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  });

  // The data a selected node's expressions see: its input in the run shown (or the last one).
  const context = useMemo<FormContext>(() => {
    const id = selectedNode?.id;
    const upstream = new Set<string>();
    const stack = id ? [id] : [];
    while (stack.length) {
      const at = stack.pop() as string;
      for (const e of edges) {
        if (e.target === at && !upstream.has(e.source)) {
          upstream.add(e.source);
          stack.push(e.source);
        }
      }
    }
    const names = ["json", "items", ...[...upstream].map((n) => `nodes.${n}.output`), "trigger", "run"];
    const run = overlay.run;
    let data: PreviewData | null = null;
    if (run && id) {
      const outputs: Record<string, unknown> = {};
      for (const r of run.nodes) {
        const ports = (r.output ?? {}) as Record<string, { json?: unknown }[]>;
        if (r.status !== "succeeded" || typeof ports !== "object") continue;
        const main = Array.isArray(ports.main) ? ports.main : Object.values(ports).flat();
        outputs[r.node_id] = { output: main.map((i) => i?.json), ports: Object.fromEntries(Object.entries(ports).map(([p, list]) => [p, Array.isArray(list) ? list.map((i) => i?.json) : []])) };
      }
      const mine = run.nodes.filter((r) => r.node_id === id).pop();
      const inputItems = mine?.input && typeof mine.input === "object" ? Object.values(mine.input as Record<string, { json?: unknown }[]>).flat() : [];
      data = {
        json: inputItems[0]?.json ?? null,
        items: inputItems.map((i) => i?.json),
        nodes: outputs,
        trigger: (run.trigger ?? {}) as Record<string, unknown>,
        run: { id: run.id, workflow_id: run.workflow_id, started_at: run.started_at },
      };
    }
    return { bareFields: BARE_FIELDS, data, names };
  }, [selectedNode?.id, edges, overlay.run]);

  const canWrite = can("workflows:write") && !readOnly;
  return (
    <NodeTypesContext.Provider value={types}>
      <Stack gap="xs" h="calc(100vh - 180px)" mih={480}>
        <Group justify="space-between" gap="xs">
          <Group gap="xs">
            <TextInput size="xs" aria-label="Workflow name" value={name} onChange={(e) => setName(e.currentTarget.value)} readOnly={!canWrite} w={260} />
            <Badge variant="light">version {base.version}</Badge>
            {dirty && <Badge color="yellow">unsaved changes</Badge>}
            {readOnly && <Badge color="gray">read only</Badge>}
          </Group>
          <Group gap={6}>
            <Button size="compact-sm" variant="default" onClick={doUndo} disabled={!history.past.length}>Undo</Button>
            <Button size="compact-sm" variant="default" onClick={doRedo} disabled={!history.future.length}>Redo</Button>
            <Button size="compact-sm" variant="default" onClick={doLayout} disabled={readOnly}>Layout</Button>
            <Button size="compact-sm" variant="default" onClick={() => download(`${name || "workflow"}.json`, exportFile({ ...base, name }, documentNow))}>Export</Button>
            <Button size="compact-sm" variant="default" onClick={() => navigate(`/workflows/${base.id}/runs`)}>Runs</Button>
            <Button size="compact-sm" variant="default" onClick={() => setHelp(true)} aria-label="Keyboard shortcuts">?</Button>
            {canWrite && (
              <Button size="compact-sm" variant="light" onClick={() => setRunOpen(true)} disabled={dirty}>
                Run
              </Button>
            )}
            {canWrite && (
              <Button size="compact-sm" onClick={() => void save()} loading={saving} disabled={!dirty}>
                Save
              </Button>
            )}
          </Group>
        </Group>
        {saveError && (
          <Alert color="red" p="xs" role="alert" title="The server refused the save" withCloseButton onClose={() => setSaveError(null)}>
            {saveError}
          </Alert>
        )}
        {overlay.run && (
          <Group gap="xs" data-testid="run-bar">
            <Text size="sm">
              Run <code>{overlay.run.id.slice(-8)}</code> (version {overlay.run.workflow_version}):
            </Text>
            <span data-testid="run-status" data-status={overlay.live ? "running" : overlay.run.status}>
              <StatusBadge status={overlay.live ? "running" : overlay.run.status} />
            </span>
            {overlay.run.error && <Text size="xs" c="red.8">{overlay.run.error}</Text>}
            {overlay.live && canWrite && (
              <Button size="compact-xs" variant="light" color="red" onClick={() => void api.POST("/api/v1/runs/{run_id}/cancel", { params: { path: { run_id: overlay.run?.id ?? "" } } })}>
                Cancel
              </Button>
            )}
            <Button size="compact-xs" variant="subtle" onClick={() => onRunChange(null)}>
              Close the run
            </Button>
          </Group>
        )}
        <Group align="stretch" gap={0} wrap="nowrap" style={{ flex: 1, minHeight: 0, overflow: "hidden", border: "1px solid var(--mantine-color-default-border)", borderRadius: 6 }}>
          {!readOnly && (
            <Box w={210} style={{ borderRight: "1px solid var(--mantine-color-default-border)", display: "flex", flexDirection: "column", minHeight: 0, flexShrink: 0 }} component="aside" aria-label="Node palette">
              <Palette ref={searchRef} catalog={catalog} onAdd={(t) => addNode(t)} />
            </Box>
          )}
          <Box style={{ flex: 1, minWidth: 0 }} data-testid="canvas"
            onDragOver={(e) => {
              if (e.dataTransfer.types.includes(DRAG_TYPE)) {
                e.preventDefault();
                e.dataTransfer.dropEffect = "move";
              }
            }}
            onDrop={(e) => {
              const type = types.get(e.dataTransfer.getData(DRAG_TYPE));
              if (!type) return;
              e.preventDefault();
              addNode(type, flow.screenToFlowPosition({ x: e.clientX, y: e.clientY }));
            }}
          >
            <ReactFlow<FlowNode, FlowEdge>
              nodes={shownNodes}
              edges={edges}
              nodeTypes={FLOW_NODE_TYPES}
              onNodesChange={onNodesChange}
              onEdgesChange={onEdgesChange}
              onConnect={onConnect}
              isValidConnection={(c) => connectionProblem(c, nodes, edges, types) === null}
              onNodeDragStart={() => {
                dragStart.current = snapshot(nodes, edges);
              }}
              onNodeDragStop={() => {
                if (dragStart.current) setHistory((h) => record(h, dragStart.current as Snapshot));
                dragStart.current = null;
              }}
              deleteKeyCode={readOnly ? null : ["Delete", "Backspace"]}
              multiSelectionKeyCode={["Control", "Meta"]}
              nodesConnectable={!readOnly}
              fitView
              minZoom={0.1}
              proOptions={{ hideAttribution: true }}
            >
              <Background />
              <Controls showInteractive={false} />
              {/* After the nodes' first draw: on a large workflow the minimap would double it. */}
              {measured && <MiniMap pannable zoomable ariaLabel="Minimap" />}
            </ReactFlow>
          </Box>
          <Box w={360} style={{ flexShrink: 0, borderLeft: "1px solid var(--mantine-color-default-border)", minHeight: 0, display: "flex", flexDirection: "column" }} component="aside" aria-label="Inspector">
            {selectedNode ? (
              <Tabs value={overlay.run ? panel : "node"} onChange={setPanel} style={{ flex: 1, minHeight: 0, display: "flex", flexDirection: "column" }}>
                {overlay.run && (
                  <Tabs.List>
                    <Tabs.Tab value="node">Node</Tabs.Tab>
                    <Tabs.Tab value="run">In this run</Tabs.Tab>
                  </Tabs.List>
                )}
                <Tabs.Panel value="node" style={{ flex: 1, minHeight: 0 }}>
                  <Inspector
                    workflowId={base.id}
                    node={selectedNode.data.doc}
                    type={types.get(selectedNode.data.doc.type)}
                    problems={problemsByNode.get(selectedNode.id) ?? []}
                    context={context}
                    hookUrl={hooks[selectedNode.id] ?? null}
                    canRotate={canWrite && base.document.nodes.some((n) => n.id === selectedNode.id)}
                    onRotate={() => void rotate(selectedNode.id)}
                    trialRunId={overlay.run?.id ?? null}
                    canTry={canWrite}
                    onChange={(next) => {
                      if (readOnly) return;
                      changeNode(next);
                    }}
                  />
                </Tabs.Panel>
                <Tabs.Panel value="run" style={{ flex: 1, minHeight: 0, overflow: "auto" }}>
                  {overlay.run && <NodeRunPanel nodeId={selectedNode.id} records={overlay.run.nodes} />}
                </Tabs.Panel>
              </Tabs>
            ) : (
              <Stack p="sm" gap="xs">
                <Text size="sm" c="dimmed">
                  Select a node to edit it. Drag a node type from the palette, or press <Kbd>/</Kbd> and type its name.
                </Text>
                {problems.filter((p) => !p.node).map((p) => (
                  <Alert key={p.message} color="red" p="xs" role="alert">
                    {p.edge ? `edge ${p.edge}: ` : ""}
                    {p.message}
                  </Alert>
                ))}
              </Stack>
            )}
          </Box>
        </Group>
      </Stack>

      <Modal opened={help} onClose={() => setHelp(false)} title="Keyboard shortcuts">
        <Table fz="sm">
          <Table.Tbody>
            {SHORTCUTS.map(([keys, what]) => (
              <Table.Tr key={keys}>
                <Table.Td><Kbd>{keys}</Kbd></Table.Td>
                <Table.Td>{what}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Modal>

      <Modal opened={conflict} onClose={() => setConflict(false)} title="Someone saved this workflow meanwhile">
        <Stack>
          <Text size="sm">
            The workflow moved on from version {base.version}. Nothing was merged: reload to see the new version (your
            changes here are dropped), or save your version as a new workflow.
          </Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => void reload()}>Reload</Button>
            <Button onClick={() => void save(true)}>Save as new</Button>
          </Group>
        </Stack>
      </Modal>

      <Modal opened={runOpen} onClose={() => setRunOpen(false)} title="Run with input">
        <Stack>
          <Textarea
            label="Input (JSON: an object, or a list of items)"
            autosize
            minRows={5}
            value={runInput}
            onChange={(e) => setRunInput(e.currentTarget.value)}
            styles={{ input: { fontFamily: "var(--mantine-font-family-monospace)" } }}
            error={runError}
          />
          <Group justify="flex-end">
            <Button onClick={() => void startRun()}>Start</Button>
          </Group>
        </Stack>
      </Modal>

      <Modal opened={blocker.state === "blocked"} onClose={() => blocker.reset?.()} title="Leave without saving?">
        <Stack>
          <Text size="sm">This workflow has changes that are not saved.</Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => blocker.reset?.()}>Stay</Button>
            <Button color="red" onClick={() => blocker.proceed?.()}>Leave</Button>
          </Group>
        </Stack>
      </Modal>
    </NodeTypesContext.Provider>
  );
}
