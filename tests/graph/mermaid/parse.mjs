// Parse mermaid diagrams with the real mermaid parser (the one the renderer uses).
// stdin: a JSON array of diagram texts. stdout: a JSON array, one result per diagram:
// {ok: true, type, nodes: [{id, shape, label}], edges: [[from, to, label, stroke]], classes: {id: [...]}}
// or {ok: false, error}. Labels are decoded as the renderer shows them: entity codes
// (`#quot;`, `#35;`) resolved and `<br/>` as a line break.
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });

// mermaid's own decodeEntities (it encodes `#name;` before parsing), then the browser's
// HTML decoding of the result, as a label is rendered
function shown(text) {
  const html = text
    .replace(/ﬂ°°/g, "&#")
    .replace(/ﬂ°/g, "&")
    .replace(/¶ß/g, ";")
    .replace(/<br\s*\/?>/gi, "\n");
  const area = dom.window.document.createElement("textarea");
  area.innerHTML = html;
  return area.value;
}

let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = [];
for (const text of JSON.parse(input)) {
  try {
    const parsed = await mermaid.parse(text);
    const { db } = await mermaid.mermaidAPI.getDiagramFromText(text);
    const vertices = [...db.getVertices().values()];
    results.push({
      ok: true,
      type: parsed.diagramType,
      nodes: vertices.map((v) => ({ id: v.id, shape: v.type, label: shown(v.text) })),
      edges: db.getEdges().map((e) => [e.start, e.end, shown(e.text || ""), e.stroke || ""]),
      classes: Object.fromEntries(vertices.map((v) => [v.id, [...v.classes]])),
    });
  } catch (error) {
    results.push({ ok: false, error: String(error.message || error) });
  }
}
process.stdout.write(JSON.stringify(results));
