// An API error shown as an alert, in the words of its problem+json detail.
import { Alert } from "@mantine/core";

import { ApiError } from "../api/client";

/** An API error shown in words: the server's detail, never swallowed. */
export function ProblemAlert({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  const heading = title ?? (error instanceof ApiError && error.title ? error.title : "Something went wrong");
  return (
    <Alert color="red" title={heading} role="alert">
      {message}
    </Alert>
  );
}
