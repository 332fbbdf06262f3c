// Writes the UI-workflow corpus and its reference API exports into fixtures/ui-workflows/.
// Usage: node scripts/ui-references/generate.mjs   (from the repository root)
import { readFileSync, writeFileSync } from "node:fs";
import { cases, Workflow } from "./cases.mjs";
import { link, subgraphCases } from "./subgraphs.mjs";

const root = new URL("../../", import.meta.url);
const definitions = {
  ...JSON.parse(readFileSync(new URL("fixtures/comfyui-traces/object_info_full.json", root), "utf8")),
  ...JSON.parse(readFileSync(new URL("src/lib/graph/ui/comfydeploy-definitions.json", root), "utf8")),
};
const write = (name, kind, data) =>
  writeFileSync(
    new URL(`fixtures/ui-workflows/${name}.${kind}.json`, root),
    `${JSON.stringify(data, null, 2)}\n`,
  );

for (const [name, build] of Object.entries(cases)) {
  const workflow = new Workflow(definitions);
  build(workflow);
  const ui = workflow.ui();
  // Schema 1 documents write links as objects; the builder writes arrays, so turn them.
  if (workflow.objectLinks) ui.links = ui.links.map((tuple) => link(...tuple));
  write(name, "ui", ui);
  write(name, "api", workflow.api);
}
for (const [name, { ui, api }] of Object.entries(subgraphCases)) {
  write(name, "ui", ui);
  write(name, "api", api);
}
