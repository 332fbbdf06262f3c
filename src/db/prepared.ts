import { fillPlaceholders } from "drizzle-orm";
import type { SQLitePreparedQuery } from "drizzle-orm/sqlite-core";
import type { Db } from "./client";

// biome-ignore lint/suspicious/noExplicitAny: any query's config; each result keeps its own type below.
type AnyPrepared = SQLitePreparedQuery<any>;
type Results<T extends readonly AnyPrepared[]> = {
  [K in keyof T]: T[K] extends SQLitePreparedQuery<infer C> ? C["all"] : never;
};

/**
 * Queries built once per database handle (per isolate): drizzle's query building walks its column and
 * table objects on every call, a measurable share of a hot path's CPU. `build` gets the handle and
 * uses `sql.placeholder(…)` for whatever varies per call.
 */
export function preparedOnce<T>(build: (db: Db) => T): (db: Db) => T {
  const built = new WeakMap<Db, T>();
  return (db) => {
    let queries = built.get(db);
    if (!queries) {
      queries = build(db);
      built.set(db, queries);
    }
    return queries;
  };
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
