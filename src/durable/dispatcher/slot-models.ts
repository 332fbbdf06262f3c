import type { ModelFile } from "../../protocol/v1";

/**
 * Which model files each ComfyUI instance (slot) of the pool holds, from its agent's latest inventory,
 * in the Dispatcher's SQLite storage: routing a job that names model files asks it, never D1.
 */
export class SlotModels {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS slot_model_sets (
      machine_id TEXT NOT NULL, instance_id TEXT NOT NULL, hash TEXT NOT NULL,
      PRIMARY KEY (machine_id, instance_id))`);
    sql.exec(`CREATE TABLE IF NOT EXISTS slot_models (
      machine_id TEXT NOT NULL, instance_id TEXT NOT NULL, folder TEXT NOT NULL, name TEXT NOT NULL,
      PRIMARY KEY (machine_id, instance_id, folder, name))`);
  }

  /** The hash of the inventory this Dispatcher holds for an instance, if any. */
  hash(machineId: string, instanceId: string): string | undefined {
    return this.sql
      .exec<{ hash: string }>(
        "SELECT hash FROM slot_model_sets WHERE machine_id = ? AND instance_id = ?",
        machineId,
        instanceId,
      )
      .toArray()[0]?.hash;
  }

  replace(machineId: string, instanceId: string, hash: string, models: readonly ModelFile[]) {
    this.sql.exec("DELETE FROM slot_models WHERE machine_id = ? AND instance_id = ?", machineId, instanceId);
    for (const { folder, name } of models)
      this.sql.exec(
        "INSERT OR IGNORE INTO slot_models (machine_id, instance_id, folder, name) VALUES (?, ?, ?, ?)",
        machineId,
        instanceId,
        folder,
        name,
      );
    this.sql.exec(
      "INSERT OR REPLACE INTO slot_model_sets (machine_id, instance_id, hash) VALUES (?, ?, ?)",
      machineId,
      instanceId,
      hash,
    );
  }

  forget(machineId: string) {
    this.sql.exec("DELETE FROM slot_models WHERE machine_id = ?", machineId);
    this.sql.exec("DELETE FROM slot_model_sets WHERE machine_id = ?", machineId);
  }

  /** True when the instance holds every file of a job's model key (see `modelsKey`). */
  holdsAll(machineId: string, instanceId: string, key: string): boolean {
    const needed = JSON.parse(key) as [string, string][];
    const { held } = this.sql
      .exec<{ held: number }>(
        `SELECT COUNT(*) AS held FROM json_each(?) AS wanted JOIN slot_models AS s
           ON s.machine_id = ? AND s.instance_id = ?
          AND s.folder = json_extract(wanted.value, '$[0]') AND s.name = json_extract(wanted.value, '$[1]')`,
        key,
        machineId,
        instanceId,
      )
      .one();
    return held === needed.length;
  }
}

/** One canonical string per set of model files (sorted `[folder, name]` pairs); null for none. */
export function modelsKey(models: readonly { folder: string; name: string }[] | undefined): string | null {
  if (!models || models.length === 0) return null;
  const pairs = [...new Map(models.map((m) => [`${m.folder}\n${m.name}`, [m.folder, m.name]])).entries()];
  pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(pairs.map(([, pair]) => pair));
}
