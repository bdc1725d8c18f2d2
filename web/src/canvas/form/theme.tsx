// A small Mantine theme for @rjsf/core: the inputs, select, checkbox and textarea are Mantine's, each
// field shows its label, help, the schema's and the server's errors, and string fields can switch to an
// expression with a live preview (ExpressionField).
import { ActionIcon, Box, Checkbox, Group, NativeSelect, Stack, Text, Textarea, TextInput, Tooltip } from "@mantine/core";
import type { FieldTemplateProps, ObjectFieldTemplateProps, RegistryWidgetsType, TemplatesType, WidgetProps } from "@rjsf/utils";
import type { ReactNode } from "react";

import { ExpressionPreview, type FormContext } from "./ExpressionPreview";

function TextWidget({ id, value, required, disabled, readonly, onChange, onBlur, onFocus, schema, rawErrors, placeholder }: WidgetProps) {
  const numeric = schema.type === "number" || schema.type === "integer";
  return (
    <TextInput
      id={id}
      size="xs"
      value={value === undefined || value === null ? "" : String(value)}
      required={required}
      disabled={disabled || readonly}
      placeholder={placeholder}
      error={rawErrors && rawErrors.length > 0}
      inputMode={numeric ? "decimal" : undefined}
      onChange={(e) => {
        const text = e.currentTarget.value;
        if (text === "") onChange(undefined);
        else if (numeric && text.trim() !== "" && !Number.isNaN(Number(text)) && !text.includes("{{")) onChange(Number(text));
        else onChange(text);
      }}
      onBlur={() => onBlur(id, value)}
      onFocus={() => onFocus(id, value)}
    />
  );
}

function TextareaWidget({ id, value, required, disabled, readonly, onChange, rawErrors, onBlur, onFocus }: WidgetProps) {
  return (
    <Textarea
      id={id}
      size="xs"
      autosize
      minRows={3}
      maxRows={14}
      styles={{ input: { fontFamily: "var(--mantine-font-family-monospace)" } }}
      value={typeof value === "string" ? value : ""}
      required={required}
      disabled={disabled || readonly}
      error={rawErrors && rawErrors.length > 0}
      onChange={(e) => onChange(e.currentTarget.value === "" ? undefined : e.currentTarget.value)}
      onBlur={() => onBlur(id, value)}
      onFocus={() => onFocus(id, value)}
    />
  );
}

function SelectWidget({ id, value, options, required, disabled, readonly, onChange }: WidgetProps) {
  const choices = (options.enumOptions ?? []).map((o) => ({ value: String(o.value), label: String(o.label) }));
  return (
    <NativeSelect
      id={id}
      size="xs"
      data={required ? choices : [{ value: "", label: "(default)" }, ...choices]}
      value={value === undefined || value === null ? "" : String(value)}
      disabled={disabled || readonly}
      onChange={(e) => {
        const picked = (options.enumOptions ?? []).find((o) => String(o.value) === e.currentTarget.value);
        onChange(picked ? picked.value : undefined);
      }}
    />
  );
}

function CheckboxWidget({ id, value, label, disabled, readonly, onChange }: WidgetProps) {
  return <Checkbox id={id} size="xs" label={label} checked={value === true} disabled={disabled || readonly} onChange={(e) => onChange(e.currentTarget.checked)} />;
}

/** A JSON value (objects without declared properties, `body`, untyped fields) edited as JSON text. */
function JsonWidget({ id, value, onChange, rawErrors }: WidgetProps) {
  return (
    <Textarea
      id={id}
      size="xs"
      autosize
      minRows={2}
      maxRows={10}
      styles={{ input: { fontFamily: "var(--mantine-font-family-monospace)" } }}
      defaultValue={value === undefined ? "" : JSON.stringify(value, null, 2)}
      error={rawErrors && rawErrors.length > 0}
      onChange={(e) => {
        const text = e.currentTarget.value.trim();
        if (!text) return onChange(undefined);
        try {
          onChange(JSON.parse(text));
        } catch {
          onChange(text); // a plain text body, or a template; the schema says whether that is allowed
        }
      }}
    />
  );
}

function FieldTemplate(props: FieldTemplateProps) {
  const { id, label, children, rawErrors, hidden, required, displayLabel, schema, rawDescription, formData, onChange, fieldPathId, registry } = props;
  if (hidden) return <Box hidden>{children}</Box>;
  if (fieldPathId.path.length === 0) return children;
  const context = registry.formContext as FormContext;
  const name = fieldPathId.path.join(".");
  // A script body takes no expressions (the server refuses them: data goes through env and args).
  const stringField = schema.type === "string" && !schema.enum && name !== "script";
  const bare = context.bareFields.has(name);
  const template = typeof formData === "string" && formData.includes("{{");
  const toggle = (): void => {
    const text = typeof formData === "string" ? formData : formData === undefined ? "" : JSON.stringify(formData);
    if (template) onChange(text.replace(/^\s*\{\{\s*|\s*\}\}\s*$/g, ""), fieldPathId.path);
    else onChange(`{{ ${text || "json"} }}`, fieldPathId.path);
  };
  return (
    <Stack gap={2} mb="xs" data-field={`params.${name}`}>
      {displayLabel && (
        <Group justify="space-between" gap="xs" wrap="nowrap">
          <Text component="label" htmlFor={id} size="xs" fw={600}>
            {label}
            {required ? " *" : ""}
          </Text>
          {stringField && !bare && (
            <Tooltip label={template ? "Back to a fixed value" : "Use an expression"}>
              <ActionIcon size="xs" variant={template ? "filled" : "subtle"} aria-label={`Expression for ${label}`} onClick={toggle}>
                fx
              </ActionIcon>
            </Tooltip>
          )}
        </Group>
      )}
      {children}
      {rawDescription && (
        <Text size="xs" c="dimmed">
          {rawDescription}
        </Text>
      )}
      {(rawErrors ?? []).map((error) => (
        <Text key={error} size="xs" c="red.8" role="alert" data-field-error={`params.${name}`}>
          {error}
        </Text>
      ))}
      {(template || bare) && typeof formData === "string" && formData.trim() && (
        <ExpressionPreview text={formData} mode={bare ? (name === "condition" ? "condition" : "expression") : "template"} context={context} />
      )}
    </Stack>
  );
}

function ObjectFieldTemplate({ properties }: ObjectFieldTemplateProps): ReactNode {
  return <Stack gap={0}>{properties.map((p) => p.content)}</Stack>;
}

export const widgets: RegistryWidgetsType = {
  TextWidget,
  TextareaWidget,
  SelectWidget,
  CheckboxWidget,
  JsonWidget,
};

export const templates: Partial<TemplatesType> = {
  FieldTemplate,
  ObjectFieldTemplate,
  BaseInputTemplate: TextWidget,
};
