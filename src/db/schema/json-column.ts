import { customType } from "drizzle-orm/sqlite-core";
import { parseStoredJson } from "../../lib/json-guard";

/**
 * A JSON column whose reads cannot fail: a value stored before input limits existed that is too deep
 * to serve (or not JSON at all) reads as `fallback` instead of breaking every list and get that
 * touches its row.
 */
export const jsonText = <T>(name: string, fallback: T | null = null) =>
  customType<{ data: T; driverData: string }>({
    dataType: () => "text",
    toDriver: (value) => JSON.stringify(value),
    fromDriver: (value) => (parseStoredJson<T>(value, name) ?? fallback) as T,
  })(name);
