#!/usr/bin/env node
// The registry mirror this project builds against serves only the platform packages of the machines it
// supports, so npm leaves the other platforms' optional binaries (darwin, win32, musl, android) out of
// package-lock.json, and `npm ci` then refuses the lock. This adds those entries back, marked optional
// with their os/cpu, so `npm ci` accepts the lock and skips them as it would on any other platform.
import { readFileSync, writeFileSync } from "node:fs";

const file = process.argv[2] ?? "package-lock.json";
const lock = JSON.parse(readFileSync(file, "utf8"));
const packages = lock.packages;

function platformOf(name) {
  const os = ["darwin", "win32", "android", "linux", "freebsd", "openbsd", "sunos", "aix", "netbsd"].find(
    (o) => name.includes(o === "win32" ? "win" : o),
  );
  const cpu = ["arm64", "x64", "ia32", "arm", "ppc64", "s390x", "riscv64", "loong64", "mips64el"].find((c) =>
    new RegExp(`[-/]${c}(?:[-/]|$)`).test(name),
  );
  return { os, cpu, libc: name.includes("musl") ? "musl" : undefined };
}

/** Where npm looks for `name` when `from` requires it: next to `from`, then in each enclosing node_modules. */
function candidates(from, name) {
  const dirs = [];
  let dir = `${from.slice(0, Math.max(0, from.lastIndexOf("node_modules/")))}node_modules`;
  for (;;) {
    dirs.push(`${dir}/${name}`);
    const up = dir.slice(0, -"node_modules".length).replace(/\/$/, "");
    const next = up.lastIndexOf("node_modules/");
    if (next < 0) break;
    dir = `${up.slice(0, next)}node_modules`;
  }
  if (!dirs.includes(`node_modules/${name}`)) dirs.push(`node_modules/${name}`);
  return dirs;
}

let added = 0;
for (const [path, entry] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const places = path === "" ? [`node_modules/${name}`] : candidates(path, name);
    const found = places.find((place) => packages[place]);
    if (found && packages[found].version === version) continue;
    const target = found ? places[0] : places.at(-1);
    if (packages[target]) continue;
    const { os, cpu, libc } = platformOf(name);
    packages[target] = {
      version,
      dev: entry.dev || undefined,
      optional: true,
      ...(os ? { os: [os] } : {}),
      ...(cpu ? { cpu: [cpu] } : {}),
      ...(libc ? { libc: [libc] } : {}),
    };
    added += 1;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : 1)),
);
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`added ${added} optional platform entries to ${file}`);
