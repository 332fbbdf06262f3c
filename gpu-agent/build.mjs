// Bundles the agent into one file that runs with plain `node` >= 20 and nothing installed:
//   node gpu-agent/build.mjs  →  gpu-agent/dist/comfy-edge-agent.mjs
import { chmod, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = dirname(fileURLToPath(import.meta.url));
const { version } = JSON.parse(await readFile(join(root, "package.json"), "utf8"));
const outfile = join(root, "dist", "comfy-edge-agent.mjs");

/**
 * Node's builtins are loaded with require(), not imported: importing one makes Node build its ES module
 * facade, which reads every export, and node:http's lazy `WebSocket` export then loads undici, 10 MB
 * of RSS the agent never uses (6 MB in all for the builtins the agent imports, on Node 22).
 */
const builtinsViaRequire = {
  name: "builtins-via-require",
  setup(build) {
    build.onResolve({ filter: /^node:/ }, (args) =>
      args.kind === "import-statement" ? { path: args.path, namespace: "node-builtin" } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: "node-builtin" }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: "js",
    }));
  },
};

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
  plugins: [builtinsViaRequire],
  define: { __AGENT_VERSION__: JSON.stringify(version) },
  legalComments: "eof",
  logLevel: "warning",
});
await chmod(outfile, 0o755);
console.log(`built ${outfile} (agent ${version})`);
