// Writes the UI-workflow corpus and its reference API exports into fixtures/ui-workflows/.
// Usage: node scripts/ui-references/generate.mjs   (from the repository root)
import { readFileSync, writeFileSync } from "node:fs";
import { cases, Workflow } from "./cases.mjs";
import { subgraphCases } from "./subgraphs.mjs";

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

/** Schema 1 documents write links as objects; the builder writes arrays, so turn them. */
const asObjects = (links) =>
  links.map(([id, origin_id, origin_slot, target_id, target_slot, type]) => ({
    id,
    origin_id,
    origin_slot,
    target_id,
    target_slot,
    type,
  }));

for (const [name, build] of Object.entries(cases)) {
  const workflow = new Workflow(definitions);
  build(workflow);
  const ui = workflow.ui();
  if (workflow.objectLinks) ui.links = asObjects(ui.links);
  write(name, "ui", ui);
  write(name, "api", workflow.api);
}
for (const [name, { ui, api }] of Object.entries(subgraphCases)) {
  write(name, "ui", ui);
  write(name, "api", api);
}
