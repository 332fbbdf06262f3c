import { bodyLimit } from "hono/body-limit";
import { AppError } from "../lib/errors";

export const tooLarge = (maxBytes: number) =>
  new AppError("payload_too_large", `Request body exceeds the limit of ${maxBytes} bytes`);

/** Rejects bodies over `maxBytes` (declared or streamed) with the uniform 413. */
export function limitBody(maxBytes: number) {
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw tooLarge(maxBytes);
    },
  });
}

export const KiB = 1024;
export const MiB = 1024 * KiB;
