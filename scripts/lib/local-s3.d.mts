export type LocalS3Credentials = { accessKeyId: string; secretAccessKey: string };
export function newLocalS3Credentials(): LocalS3Credentials;
export function writeLocalWranglerConfig(name: string, credentials: LocalS3Credentials): string;
export function withLocalS3Credentials(toml: string, credentials: LocalS3Credentials): string;
