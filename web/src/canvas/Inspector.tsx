// The selected node: its name, documentation, parameters (a form generated from the type's JSON Schema),
// settings (retries, timeout, error policy), the agents it runs on, a webhook's URL, and the server's
// problems with it.
import { Alert, Anchor, Button, CopyButton, Divider, Group, ScrollArea, Stack, Text, TextInput, Title } from "@mantine/core";
import Form from "@rjsf/core/lib/components/Form.js";
import type { ErrorSchema, FieldProps, RJSFSchema, UiSchema } from "@rjsf/utils";
import { useMemo } from "react";

import { TargetPicker, toTarget, type TargetChoice } from "../components/TargetPicker";
import type { FormContext } from "./form/ExpressionPreview";
import { NodeTrial } from "./NodeTrial";
import { ScheduleTimes } from "./ScheduleTimes";
import { templates, widgets } from "./form/theme";
import { cfworkerValidator } from "./form/validator";
import type { DocNode, DocProblem, NodeSettings, NodeType } from "./types";

/** Parameters that are bare JMESPath (docs/workflows.md, "Node types"). */
export const BARE_FIELDS = new Set(["condition", "expression", "key", "fields", "items_path", "key_path", "cursor_path"]);

const SETTINGS_SCHEMA: RJSFSchema = {
  type: "object",
  properties: {
    retries: { type: "integer", minimum: 0, maximum: 10, title: "Retries", description: "attempts after the first when it fails" },
    retry_backoff_s: { type: "number", minimum: 0, maximum: 300, title: "Retry backoff (s)", description: "doubles each retry, with jitter" },
    timeout_s: { type: "number", minimum: 0.1, maximum: 86400, title: "Timeout (s)", description: "default 300" },
    on_error: {
      type: "string",
      enum: ["stop", "continue", "error_port"],
      title: "On error",
      description: "stop the run, continue with the input, or send the failure out of the error port",
    },
  },
};

function targetChoice(value: unknown): TargetChoice {
  const target = (value ?? {}) as { agents?: string[]; tags?: string[]; all?: boolean };
  if (target.all) return { kind: "all", agents: [], tags: [] };
  if (target.tags) return { kind: "tags", agents: [], tags: target.tags };
  return { kind: "agents", agents: target.agents ?? [], tags: [] };
}

function TargetField({ formData, onChange, fieldPathId }: FieldProps) {
  return <TargetPicker value={targetChoice(formData)} onChange={(choice) => onChange(toTarget(choice), fieldPathId.path)} />;
}

function uiSchemaFor(type: NodeType): UiSchema {
  const ui: UiSchema = { "ui:submitButtonOptions": { norender: true } };
  const properties = (type.schema as { properties?: Record<string, { type?: unknown; properties?: unknown; enum?: unknown }> }).properties ?? {};
  for (const [key, property] of Object.entries(properties)) {
    if (key === "target" && type.category === "agents") ui[key] = { "ui:field": "target" };
    else if (key === "script" || key === "text" || key === "template") ui[key] = { "ui:widget": "TextareaWidget" };
    else if (property.type === undefined || (property.type === "object" && !property.properties)) ui[key] = { "ui:widget": "JsonWidget" };
  }
  return ui;
}

/** `params.url` → rjsf's error schema `{url: {__errors: [...]}}` for the form's extra errors. */
function errorSchema(problems: DocProblem[], prefix: string): ErrorSchema {
  const schema: Record<string, unknown> = {};
  for (const problem of problems) {
    if (!problem.field?.startsWith(`${prefix}.`)) continue;
    const path = problem.field.slice(prefix.length + 1).split(/[.[\]]+/).filter(Boolean);
    let at = schema;
    for (const part of path) at = (at[part] ??= {}) as Record<string, unknown>;
    ((at.__errors ??= []) as string[]).push(problem.message);
  }
  return schema as ErrorSchema;
}

export function Inspector({
  workflowId,
  node,
  type,
  problems,
  context,
  hookUrl,
  canRotate,
  onRotate,
  onChange,
  trialRunId,
  canTry,
}: {
  workflowId: string;
  node: DocNode;
  type: NodeType | undefined;
  problems: DocProblem[];
  context: FormContext;
  hookUrl: string | null;
  canRotate: boolean;
  onRotate: () => void;
  onChange: (next: DocNode) => void;
  trialRunId: string | null;
  canTry: boolean;
}) {
  const ui = useMemo(() => (type ? uiSchemaFor(type) : {}), [type]);
  const paramErrors = useMemo(() => errorSchema(problems, "params"), [problems]);
  const settingErrors = useMemo(() => errorSchema(problems, "settings"), [problems]);
  const other = problems.filter((p) => !p.field?.startsWith("params.") && !p.field?.startsWith("settings."));
  return (
    <ScrollArea h="100%" type="auto" offsetScrollbars>
      <Stack gap="xs" p="sm" aria-label={`Node ${node.id}`}>
        <Title order={3} size="h5">
          {type?.title ?? node.type} <Text span size="xs" c="dimmed">({node.id})</Text>
        </Title>
        {type && (
          <Text size="xs" c="dimmed" style={{ whiteSpace: "pre-wrap" }}>
            {type.doc}
          </Text>
        )}
        {!type && <Alert color="red">Unknown node type {node.type}</Alert>}
        {other.map((p) => (
          <Alert key={`${p.field}-${p.message}`} color="red" p="xs" role="alert">
            {p.field ? `${p.field}: ` : ""}
            {p.message}
          </Alert>
        ))}
        <TextInput
          size="xs"
          label="Display name"
          value={node.name ?? ""}
          onChange={(e) => onChange({ ...node, name: e.currentTarget.value || undefined })}
        />
        {node.type === "trigger.webhook" && (
          <Stack gap={4}>
            <Text size="xs" fw={600}>
              Webhook URL
            </Text>
            {hookUrl ? (
              <Group gap="xs" wrap="nowrap">
                <Text size="xs" ff="monospace" style={{ wordBreak: "break-all" }} data-testid="hook-url">
                  {window.location.origin + hookUrl}
                </Text>
                <CopyButton value={window.location.origin + hookUrl}>
                  {({ copied, copy }) => (
                    <Button size="compact-xs" variant="light" onClick={copy}>
                      {copied ? "Copied" : "Copy"}
                    </Button>
                  )}
                </CopyButton>
              </Group>
            ) : (
              <Text size="xs" c="dimmed">
                The URL is shown once, when the node is first saved; rotate to get a new one.
              </Text>
            )}
            {canRotate && (
              <Anchor component="button" type="button" size="xs" onClick={onRotate}>
                Rotate the URL (the old one stops working)
              </Anchor>
            )}
          </Stack>
        )}
        {node.type === "trigger.schedule" && <ScheduleTimes workflowId={workflowId} />}
        {type && (
          <>
            <Divider label="Parameters" labelPosition="left" />
            <Form
              key={node.id}
              schema={type.schema as RJSFSchema}
              uiSchema={ui}
              formData={node.params}
              validator={cfworkerValidator}
              widgets={widgets}
              templates={templates}
              fields={{ target: TargetField }}
              formContext={context}
              extraErrors={paramErrors}
              liveValidate="onChange"
              showErrorList={false}
              noHtml5Validate
              idPrefix={`p-${node.id}`}
              onChange={(event) => onChange({ ...node, params: (event.formData ?? {}) as Record<string, unknown> })}
            />
            <Divider label="Settings" labelPosition="left" />
            <Form
              key={`${node.id}-settings`}
              schema={SETTINGS_SCHEMA}
              uiSchema={{ "ui:submitButtonOptions": { norender: true } }}
              formData={node.settings ?? {}}
              validator={cfworkerValidator}
              widgets={widgets}
              templates={templates}
              formContext={{ ...context, bareFields: new Set<string>() }}
              extraErrors={settingErrors}
              liveValidate="onChange"
              showErrorList={false}
              noHtml5Validate
              idPrefix={`s-${node.id}`}
              onChange={(event) => {
                const settings = Object.fromEntries(
                  Object.entries((event.formData ?? {}) as NodeSettings).filter(([, v]) => v !== undefined && v !== ""),
                ) as NodeSettings;
                onChange({ ...node, settings: Object.keys(settings).length ? settings : undefined });
              }}
            />
            {canTry && (
              <>
                <Divider label="Run this node" labelPosition="left" />
                <NodeTrial key={node.id} workflowId={workflowId} node={node} shownRunId={trialRunId} isAgentNode={type.category === "agents"} />
              </>
            )}
          </>
        )}
      </Stack>
    </ScrollArea>
  );
}
