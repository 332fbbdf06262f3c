// Bundles the agent into one file that runs with plain `node` >= 20 and nothing installed:
//   node gpu-agent/build.mjs  →  gpu-agent/dist/comfy-edge-agent.mjs
import { chmod, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = dirname(fileURLToPath(import.meta.url));
const { version } = JSON.parse(await readFile(join(root, "package.json"), "utf8"));
const outfile = join(root, "dist", "comfy-edge-agent.mjs");

await build({
  entryPoints: [join(root, "src", "main.ts")],
  outfile,
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  // ws is CommonJS and calls require(); an ESM bundle needs a real one.
  banner: {
    js: [
      "#!/usr/bin/env node",
      'import { createRequire as __agentCreateRequire } from "node:module";',
      "const require = __agentCreateRequire(import.meta.url);",
    ].join("\n"),
  },
  // ws's optional native speed-ups: required inside try/catch, absent on a bare host.
  external: ["bufferutil", "utf-8-validate"],
  define: { __AGENT_VERSION__: JSON.stringify(version) },
  legalComments: "eof",
  logLevel: "warning",
});
await chmod(outfile, 0o755);
console.log(`built ${outfile} (agent ${version})`);
