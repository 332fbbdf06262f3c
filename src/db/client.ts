import { drizzle } from "drizzle-orm/d1";
import * as schema from "./schema";

export type Db = ReturnType<typeof build>;

const build = (d1: D1Database) => drizzle(d1, { schema });

/**
 * Building a handle walks the whole schema (drizzle's relational config), so each binding gets one per
 * isolate; the handle holds no per-request state.
 */
const handles = new WeakMap<D1Database, Db>();

export function createDb(d1: D1Database): Db {
  let db = handles.get(d1);
  if (!db) {
    db = build(d1);
    handles.set(d1, db);
  }
  return db;
}
