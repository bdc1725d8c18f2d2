// The node palette: the catalog grouped by category, searchable ("/" focuses the search, Enter adds the
// first match), each type with its documentation; drag a type onto the canvas or press Enter on it.
import { Accordion, ScrollArea, Stack, Text, TextInput, Tooltip, UnstyledButton } from "@mantine/core";
import { forwardRef, useMemo, useState } from "react";

import type { NodeType } from "./types";

export const DRAG_TYPE = "application/x-borealis-node-type";

interface PaletteProps {
  catalog: NodeType[];
  onAdd: (type: NodeType) => void;
}

export const Palette = forwardRef<HTMLInputElement, PaletteProps>(function Palette({ catalog, onAdd }, searchRef) {
  const [query, setQuery] = useState("");
  const needle = query.trim().toLowerCase();
  // Every word typed must appear in the type, its title or its category ("run script" finds agents.run_script).
  const shown = useMemo(() => {
    const words = needle.split(/\s+/).filter(Boolean);
    return catalog.filter((t) => {
      const text = `${t.type} ${t.title} ${t.category}`.toLowerCase();
      return words.every((word) => text.includes(word));
    });
  }, [catalog, needle]);
  const categories = useMemo(() => [...new Set(shown.map((t) => t.category))], [shown]);
  return (
    <Stack gap="xs" p="xs" style={{ flex: 1, minHeight: 0 }}>
      <TextInput
        ref={searchRef}
        size="xs"
        aria-label="Search node types"
        placeholder="Search nodes ( / )"
        value={query}
        onChange={(e) => setQuery(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && shown[0]) {
            e.preventDefault();
            onAdd(shown[0]);
            setQuery("");
            e.currentTarget.blur(); // back to the canvas: "/" searches again, shortcuts work
          }
          if (e.key === "Escape") setQuery("");
        }}
      />
      <ScrollArea style={{ flex: 1 }} type="auto">
        <Accordion multiple value={categories} chevronPosition="left" variant="default">
          {categories.map((category) => (
            <Accordion.Item key={category} value={category}>
              <Accordion.Control py={0}>
                <Text size="xs" fw={700} tt="uppercase">
                  {category}
                </Text>
              </Accordion.Control>
              <Accordion.Panel>
                <Stack gap={2}>
                  {shown
                    .filter((t) => t.category === category)
                    .map((type) => (
                      <Tooltip key={type.type} label={type.doc} multiline w={320} position="right" openDelay={400}>
                        <UnstyledButton
                          draggable
                          data-node-type={type.type}
                          aria-label={`Add ${type.title} (${type.type})`}
                          onDragStart={(e) => {
                            e.dataTransfer.setData(DRAG_TYPE, type.type);
                            e.dataTransfer.effectAllowed = "move";
                          }}
                          onClick={() => onAdd(type)}
                          style={{ padding: "4px 6px", borderRadius: 4, border: "1px solid var(--mantine-color-default-border)", cursor: "grab" }}
                        >
                          <Text size="xs" fw={600}>
                            {type.title}
                          </Text>
                          <Text size="xs" c="dimmed">
                            {type.type}
                          </Text>
                        </UnstyledButton>
                      </Tooltip>
                    ))}
                </Stack>
              </Accordion.Panel>
            </Accordion.Item>
          ))}
        </Accordion>
      </ScrollArea>
    </Stack>
  );
});
