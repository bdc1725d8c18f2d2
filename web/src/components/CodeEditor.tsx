// A CodeMirror 6 editor for scripts, loaded on demand (React.lazy) so CodeMirror stays out of the shell.
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { python } from "@codemirror/lang-python";
import { StreamLanguage, defaultHighlightStyle, syntaxHighlighting } from "@codemirror/language";
import { powerShell } from "@codemirror/legacy-modes/mode/powershell";
import { shell } from "@codemirror/legacy-modes/mode/shell";
import { Compartment, EditorState, type Extension } from "@codemirror/state";
import { EditorView, keymap, lineNumbers } from "@codemirror/view";
import { useEffect, useRef } from "react";

function languageOf(language: string): Extension {
  if (language === "python") return python();
  if (language === "powershell") return StreamLanguage.define(powerShell);
  if (language === "bash" || language === "sh") return StreamLanguage.define(shell);
  return [];
}

const frame = EditorView.theme({
  "&": { border: "1px solid var(--mantine-color-default-border)", borderRadius: "4px", fontSize: "13px" },
  ".cm-scroller": { fontFamily: "var(--mantine-font-family-monospace)", minHeight: "160px", maxHeight: "420px" },
  ".cm-gutters": { color: "var(--mantine-color-dimmed)", backgroundColor: "transparent" },
});

export default function CodeEditor({
  value,
  onChange,
  language,
  label,
  readOnly = false,
}: {
  value: string;
  onChange?: (value: string) => void;
  language: string;
  label: string;
  readOnly?: boolean;
}) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const lang = useRef(new Compartment());
  const changed = useRef(onChange);
  changed.current = onChange;

  useEffect(() => {
    if (!host.current) return;
    const editor = new EditorView({
      parent: host.current,
      state: EditorState.create({
        doc: value,
        extensions: [
          lineNumbers(),
          history(),
          // Tab indents; Escape then Tab leaves the editor (CodeMirror's rule), so it is no keyboard trap.
          keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
          syntaxHighlighting(defaultHighlightStyle),
          lang.current.of(languageOf(language)),
          frame,
          EditorState.readOnly.of(readOnly),
          EditorView.contentAttributes.of({ "aria-label": label }),
          EditorView.updateListener.of((update) => {
            if (update.docChanged) changed.current?.(update.state.doc.toString());
          }),
        ],
      }),
    });
    view.current = editor;
    return () => editor.destroy();
    // The editor is made once; value and language changes are applied below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [label, readOnly]);

  useEffect(() => {
    view.current?.dispatch({ effects: lang.current.reconfigure(languageOf(language)) });
  }, [language]);

  useEffect(() => {
    const editor = view.current;
    if (editor && editor.state.doc.toString() !== value) {
      editor.dispatch({ changes: { from: 0, to: editor.state.doc.length, insert: value } });
    }
  }, [value]);

  return <div ref={host} data-testid="code-editor" />;
}
