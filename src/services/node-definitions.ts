import type { Db } from "../db/client";
import { COMFYDEPLOY_DEFINITIONS, type NodeDefinitions } from "../lib/graph/ui";
import { readNodeDefinitions, reportedDefinitionHashes } from "../stores/node-definitions";

/** A set under one hash never changes, so an isolate may keep the ones it has read. */
const cache = new Map<string, NodeDefinitions>();
const CACHE_LIMIT = 16;

export async function definitionsByHash(bucket: R2Bucket, hash: string) {
  const cached = cache.get(hash);
  if (cached) return cached;
  const definitions = (await readNodeDefinitions(bucket, hash)) as NodeDefinitions | undefined;
  if (!definitions) return undefined;
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(hash, definitions);
  return definitions;
}

/**
 * The node definitions a user's machines report (those of one pool, when given): every class any of
 * them knows, the most recent report winning, over ComfyDeploy's external nodes (which runs lower away
 * before ComfyUI sees them). Undefined while no machine has reported any: conversion then has no
 * ground truth, and the recorded core set is not assumed, since custom nodes would convert wrongly.
 */
export async function reportedDefinitions(db: Db, bucket: R2Bucket, userId: string, pool?: string) {
  const hashes = await reportedDefinitionHashes(db, userId, pool);
  const sets = await Promise.all(hashes.map((hash) => definitionsByHash(bucket, hash)));
  const known = sets.filter((set): set is NodeDefinitions => set !== undefined);
  if (known.length === 0) return undefined;
  return Object.assign({}, COMFYDEPLOY_DEFINITIONS, ...known) as NodeDefinitions;
}

/** Class names per combination of hashes: checking a graph is then one D1 read and set lookups. */
const classCache = new Map<string, ReadonlySet<string>>();

/**
 * Every node class in these reported definition sets (with ComfyDeploy's external nodes), or undefined
 * while none has been reported.
 */
export async function reportedNodeClasses(bucket: R2Bucket, hashes: readonly string[]) {
  if (hashes.length === 0) return undefined;
  const key = [...hashes].sort().join(",");
  const cached = classCache.get(key);
  if (cached) return cached;
  const sets = await Promise.all(hashes.map((hash) => definitionsByHash(bucket, hash)));
  const known = sets.filter((set): set is NodeDefinitions => set !== undefined);
  if (known.length === 0) return undefined;
  const classes = new Set([COMFYDEPLOY_DEFINITIONS, ...known].flatMap((set) => Object.keys(set)));
  if (classCache.size >= CACHE_LIMIT) classCache.delete(classCache.keys().next().value as string);
  classCache.set(key, classes);
  return classes;
}
