/** The line that marks a README shell block as runnable, word for word, on a fresh `npm start`. */
export const RUNNABLE_MARK = "<!-- readme-test: runs against npm start -->";

/** The `sh` blocks of a Markdown text that follow the runnable mark, each as its shell commands. */
export function runnableBlocks(markdown: string): string[][] {
  const blocks: string[][] = [];
  const fence = /^<!-- readme-test: runs against npm start -->\n```sh\n([\s\S]*?)^```$/gm;
  for (const match of markdown.matchAll(fence)) blocks.push(shellCommands(match[1] ?? ""));
  return blocks;
}

/**
 * Splits a shell block into its commands: a newline ends one unless it is escaped or inside quotes;
 * comments are dropped.
 */
export function shellCommands(block: string): string[] {
  const commands: string[] = [];
  let current = "";
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < block.length; i++) {
    const ch = block[i]!;
    if (quote === null && ch === "#" && (current === "" || /\s$/.test(current))) {
      while (i < block.length && block[i] !== "\n") i++;
      i--;
      continue;
    }
    if (quote === null && ch === "\\" && block[i + 1] === "\n") {
      i++;
      current += " ";
      continue;
    }
    if (ch === "'" || ch === '"') quote = quote === ch ? null : (quote ?? ch);
    if (ch === "\n" && quote === null) {
      if (current.trim()) commands.push(current.trim());
      current = "";
      continue;
    }
    current += ch;
  }
  if (current.trim()) commands.push(current.trim());
  return commands;
}

/**
 * What a newcomer copies from a command's JSON reply into later `<name>` placeholders: every `*_id`
 * field, and the `id` of a created resource as `<resource>_id` (`POST /api/workflow` → `workflow_id`).
 */
export function idsFrom(command: string, reply: unknown): Record<string, string> {
  if (typeof reply !== "object" || reply === null || Array.isArray(reply)) return {};
  const ids: Record<string, string> = {};
  for (const [key, value] of Object.entries(reply)) {
    if (key.endsWith("_id") && typeof value === "string") ids[key] = value;
  }
  const resource = /\/api\/([a-z_]+)(?:\s|$)/.exec(command)?.[1];
  const id = (reply as { id?: unknown }).id;
  if (resource && typeof id === "string") ids[`${resource}_id`] ??= id;
  return ids;
}
