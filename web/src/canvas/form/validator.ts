// The inspector form's JSON-Schema validator for @rjsf/core, on @cfworker/json-schema: it interprets
// schemas instead of compiling them to code, so it runs under the console's CSP (no 'unsafe-eval',
// which ajv would need).
import { Validator } from "@cfworker/json-schema";
import type { Schema } from "@cfworker/json-schema";
import { toErrorSchema, type RJSFSchema, type RJSFValidationError, type ValidationData, type ValidatorType } from "@rjsf/utils";

const CONTAINER_KEYWORDS = new Set(["properties", "items", "prefixItems", "allOf", "anyOf", "oneOf", "$ref"]);
const cache = new WeakMap<object, Validator>();

function validatorFor(schema: RJSFSchema): Validator {
  let found = cache.get(schema);
  if (!found) {
    found = new Validator(schema as Schema, "7", false);
    cache.set(schema, found);
  }
  return found;
}

/** JSON-pointer `#/a/0/b` (or `/a/0/b`) as rjsf's property path `.a.0.b`. */
function property(pointer: string): string {
  const parts = pointer.replace(/^#/, "").split("/").filter(Boolean).map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
  return parts.length ? `.${parts.join(".")}` : "";
}

/** The errors that say something about one field: cfworker also reports each enclosing object. */
export function schemaErrors(schema: RJSFSchema, data: unknown): RJSFValidationError[] {
  const result = validatorFor(schema).validate(data ?? {});
  if (result.valid) return [];
  const found: RJSFValidationError[] = [];
  for (const unit of result.errors) {
    if (CONTAINER_KEYWORDS.has(unit.keyword)) continue;
    let at = property(unit.instanceLocation);
    let message = unit.error.replace(/^Instance( does not)?/, (m) => (m === "Instance does not" ? "does not" : "")).trim();
    const missing = unit.keyword === "required" && /"([^"]+)"/.exec(unit.error);
    if (missing) {
      at = `${at}.${missing[1]}`;
      message = "is required";
    }
    if (found.some((e) => e.property === at && e.message === message)) continue;
    found.push({ name: unit.keyword, property: at, message, stack: `${at || "form"} ${message}`, schemaPath: unit.keywordLocation });
  }
  return found;
}

export const cfworkerValidator: ValidatorType = {
  validateFormData(formData, schema): ValidationData<unknown> {
    const errors = schemaErrors(schema, formData);
    return { errors, errorSchema: toErrorSchema(errors) };
  },
  isValid(schema, formData) {
    try {
      return validatorFor(schema).validate(formData).valid;
    } catch {
      return false;
    }
  },
  rawValidation<Result>(schema: RJSFSchema, formData?: unknown) {
    return { errors: schemaErrors(schema, formData) as Result[] };
  },
};
