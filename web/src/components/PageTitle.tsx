// A page heading that also sets the document title, with room for the page's actions.
import { Group, Title } from "@mantine/core";
import { useEffect, type ReactNode } from "react";

/** The page's heading, also set as the document title. */
export function PageTitle({ title, children }: { title: string; children?: ReactNode }) {
  useEffect(() => {
    document.title = `${title} · Borealis`;
  }, [title]);
  return (
    <Group justify="space-between" mb="md">
      <Title order={2}>{title}</Title>
      {children}
    </Group>
  );
}
