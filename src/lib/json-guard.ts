import { AppError, type ErrorDetail } from "./errors";

/**
 * What we accept as JSON: values we can store and give back unchanged. Deeper nesting than this breaks
 * recursive readers and writers further on (a response serialiser, a Durable Object RPC), integers past
 * 2^53 lose digits in a JavaScript number, and a lone UTF-16 surrogate has no UTF-8 form.
 */
export const MAX_JSON_DEPTH = 64;

type Frame = { object: boolean; key: string; index: number; expectKey: boolean };

const isDigit = (code: number) => code >= 48 && code <= 57;
const isHigh = (code: number) => code >= 0xd800 && code <= 0xdbff;
const isLow = (code: number) => code >= 0xdc00 && code <= 0xdfff;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function pathOf(stack: Frame[]): string | undefined {
  const parts = stack.map((f) => (f.object ? f.key : String(f.index)));
  return parts.length ? parts.join(".") : undefined;
}

/**
 * A run of string content with nothing to look at: no quote, backslash or UTF-16 surrogate. Skipped in
 * one regular-expression step (data URIs and long prompts are mostly this), not a character at a time.
 */
const PLAIN = /[^"\\\ud800-\udfff]*/y;
/** The rest of a number token once its first character is known. */
const NUMBER_REST = /[0-9.eE+-]*/y;

/** Where the string starting at `start` (its opening quote) ends, or a problem with its contents. */
function scanString(text: string, start: number): { end: number } | { problem: string } {
  let i = start + 1;
  let pendingHigh = false;
  while (i < text.length) {
    PLAIN.lastIndex = i;
    PLAIN.test(text);
    if (PLAIN.lastIndex > i) {
      if (pendingHigh) return { problem: "contains a lone UTF-16 surrogate" };
      i = PLAIN.lastIndex;
      if (i >= text.length) break;
    }
    const code = text.charCodeAt(i);
    let unit = -1;
    if (code === 34) break;
    if (code === 92) {
      if (text[i + 1] === "u") {
        unit = Number.parseInt(text.slice(i + 2, i + 6), 16);
        i += 6;
      } else {
        i += 2;
      }
    } else {
      unit = code;
      i += 1;
    }
    if (pendingHigh && !isLow(unit)) return { problem: "contains a lone UTF-16 surrogate" };
    if (!pendingHigh && isLow(unit)) return { problem: "contains a lone UTF-16 surrogate" };
    pendingHigh = isHigh(unit);
  }
  if (pendingHigh) return { problem: "contains a lone UTF-16 surrogate" };
  return { end: i };
}

/**
 * The first thing in this JSON text that could not be stored faithfully, with the field it is in
 * (`a.b.0`), or null. Syntax errors are left to the parser.
 */
export function inspectJson(text: string, maxDepth = MAX_JSON_DEPTH): ErrorDetail | null {
  const stack: Frame[] = [];
  const problem = (code: string, what: string): ErrorDetail => {
    const field = pathOf(stack);
    return { code, message: `${field ? `Field '${field}'` : "The body"} ${what}`, field };
  };
  let i = 0;
  while (i < text.length) {
    const code = text.charCodeAt(i);
    const top = stack[stack.length - 1];
    if (code === 123 || code === 91) {
      stack.push({ object: code === 123, key: "", index: 0, expectKey: code === 123 });
      if (stack.length > maxDepth) return problem("TOO_DEEP", `is nested deeper than ${maxDepth} levels`);
      i += 1;
    } else if (code === 125 || code === 93) {
      stack.pop();
      i += 1;
    } else if (code === 44) {
      if (top?.object) top.expectKey = true;
      else if (top) top.index += 1;
      i += 1;
    } else if (code === 34) {
      const scanned = scanString(text, i);
      if ("problem" in scanned) {
        if (top?.object && top.expectKey) top.key = "(key)";
        return problem("INVALID_STRING", scanned.problem);
      }
      if (top?.object && top.expectKey) {
        top.key = safeKey(text.slice(i, scanned.end + 1));
        top.expectKey = false;
      }
      i = scanned.end + 1;
    } else if (code === 45 || isDigit(code)) {
      NUMBER_REST.lastIndex = i + 1;
      NUMBER_REST.test(text);
      const end = NUMBER_REST.lastIndex;
      const token = text.slice(i, end);
      if (/^-?\d{16,}$/.test(token) && (BigInt(token) > MAX_SAFE || BigInt(token) < -MAX_SAFE)) {
        return problem("UNSAFE_INTEGER", "is an integer beyond ±(2^53 - 1), which cannot be kept exactly");
      }
      i = end;
    } else {
      i += 1;
    }
  }
  return null;
}

function safeKey(quoted: string): string {
  try {
    return String(JSON.parse(quoted));
  } catch {
    return "(key)";
  }
}

/** Throws the uniform 400 when the text holds something {@link inspectJson} refuses. */
export function assertStorableJson(text: string): void {
  const detail = inspectJson(text);
  if (detail) throw new AppError("validation_error", detail.message, [detail]);
}

/** Whether the JSON text nests deeper than `limit`: only brackets outside strings count. */
export function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 34) {
      let end = text.indexOf('"', i + 1);
      while (end > 0 && isEscaped(text, end)) end = text.indexOf('"', end + 1);
      if (end < 0) return false;
      i = end;
    } else if (code === 123 || code === 91) {
      if (++depth > limit) return true;
    } else if (code === 125 || code === 93) {
      depth -= 1;
    }
  }
  return false;
}

function isEscaped(text: string, quote: number): boolean {
  let backslashes = 0;
  for (let j = quote - 1; text.charCodeAt(j) === 92; j--) backslashes += 1;
  return backslashes % 2 === 1;
}

/** Parses stored JSON that may predate these limits; what cannot be read back safely becomes null. */
export function parseStoredJson<T>(text: string | null, what: string): T | null {
  if (text === null) return null;
  // Stored rows may be deeper than new input may be; only what breaks serving is dropped.
  if (nestsDeeperThan(text, MAX_JSON_DEPTH * 4)) {
    console.warn(JSON.stringify({ event: "stored_json_unreadable", what, bytes: text.length }));
    return null;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    console.warn(JSON.stringify({ event: "stored_json_unreadable", what, bytes: text.length }));
    return null;
  }
}
