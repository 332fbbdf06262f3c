/** Resource ids are UUIDv4 strings, as the ComfyDeploy SDK expects. */
export const newId = () => crypto.randomUUID();

export const nowIso = () => new Date().toISOString();
