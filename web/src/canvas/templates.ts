// The workflows shipped ready to import (the same files are in `templates/` beside this module, to
// import through "Import a file" or `borealis workflow import`).
import diskCleanup from "./templates/disk-cleanup.json";
import securityUpdates from "./templates/security-updates.json";
import webhookDiagnostic from "./templates/webhook-diagnostic.json";
import type { WorkflowFile } from "./types";

export const TEMPLATES: WorkflowFile[] = [diskCleanup, securityUpdates, webhookDiagnostic] as WorkflowFile[];
