import path from "node:path";
import { defineConfig } from "vite";

const root = path.resolve(import.meta.dirname, "..");

/**
 * The dashboard is served by the Worker's static assets under /app/. `index.html` lands at the asset
 * root (the single-page-application fallback serves it for every unknown /app/… path) and the bundles
 * under app/assets/.
 */
export default defineConfig({
  root: import.meta.dirname,
  // Absolute asset URLs, so index.html works at any /app/… depth (it is served for client routes too).
  base: "/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: path.join(root, "dist", "dashboard"),
    assetsDir: "app/assets",
    emptyOutDir: true,
    target: "es2022",
  },
});
