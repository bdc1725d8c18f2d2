// The scopes a token may hold (server/auth/scopes.py), offered in the token form.
export const ALL_SCOPES = [
  "agents:read",
  "agents:write",
  "agents:update",
  "enrollments:read",
  "enrollments:write",
  "users:read",
  "users:write",
  "tokens:write",
  "audit:read",
  "metrics:read",
  "jobs:read",
  "jobs:run",
  "inventory:read",
  "scripts:read",
  "scripts:write",
  "workflows:read",
  "workflows:write",
  "schedules:read",
  "schedules:write",
  "admin",
];

export const ROLES = ["admin", "operator", "viewer"];
