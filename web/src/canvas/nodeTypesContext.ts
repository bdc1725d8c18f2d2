// The node catalog for the nodes drawn on the canvas (a context, so the memoized node views read it).
import { createContext, useContext } from "react";

import type { NodeType } from "./types";

export const NodeTypesContext = createContext<Map<string, NodeType>>(new Map());

export function useNodeTypes(): Map<string, NodeType> {
  return useContext(NodeTypesContext);
}
