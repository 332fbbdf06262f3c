import { fillPlaceholders, type Placeholder, type SQL, sql } from "drizzle-orm";
import type { SQLitePreparedQuery } from "drizzle-orm/sqlite-core";
import type { Db } from "./client";

// biome-ignore lint/suspicious/noExplicitAny: any query's config; each result keeps its own type below.
type AnyPrepared = SQLitePreparedQuery<any>;
type Results<T extends readonly AnyPrepared[]> = {
  [K in keyof T]: T[K] extends SQLitePreparedQuery<infer C> ? C["all"] : never;
};

/**
 * Hot queries built once per database handle and shape, then run with placeholders: building a drizzle
 * query (its SQL text, params and column mapping) costs more CPU than the local D1 call it makes.
 */
const byHandle = new WeakMap<Db, Map<string, unknown>>();

export function prepareOnce<T>(db: Db, key: string, build: () => T): T {
  let queries = byHandle.get(db);
  if (!queries) {
    queries = new Map();
    byHandle.set(db, queries);
  }
  let query = queries.get(key) as T | undefined;
  if (query === undefined) {
    query = build();
    queries.set(key, query);
  }
  return query;
}

/**
 * Column values as placeholders, and the values to fill them with. A placeholder's value still goes
 * through its column's encoder (JSON, booleans), which would write a null as the JSON text `null`, so
 * a null is written as SQL NULL instead, and it is part of the shape: the same keys with other nulls
 * are another query.
 */
export function placeholders(fields: Record<string, unknown>) {
  const columns: Record<string, Placeholder | SQL> = {};
  const values: Record<string, unknown> = {};
  const shape: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    if (value === null) {
      columns[key] = sql`NULL`;
      shape.push(`${key}=null`);
    } else {
      columns[key] = sql.placeholder(key);
      values[key] = value;
      shape.push(key);
    }
  }
  return { columns, values, shape: shape.join(",") };
}

/** Runs prepared queries in one D1 batch with the same placeholder values; each result as its `all()`. */
export async function batchPrepared<const T extends readonly AnyPrepared[]>(
  db: Db,
  queries: T,
  values: Record<string, unknown>,
): Promise<Results<T>> {
  const statements = queries.map((query) => {
    const { sql, params } = query.getQuery();
    return db.$client.prepare(sql).bind(...fillPlaceholders(params, values));
  });
  const results = await db.$client.batch(statements);
  return queries.map((query, i) => query.mapResult(results[i], true)) as Results<T>;
}
