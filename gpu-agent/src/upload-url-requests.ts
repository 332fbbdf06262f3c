import { randomUUID } from "node:crypto";
import type * as z from "zod/mini";
import type {
  UploadGrant,
  UploadRequestFile,
  UploadRequestMessage,
  UploadUrlsMessage,
} from "../../src/protocol/v1";
import { UploadError } from "./uploads/upload-outputs";

type Grant = z.infer<typeof UploadGrant>;
type Request = z.infer<typeof UploadRequestMessage>;

interface Pending {
  message: Request;
  resolve(grants: Grant[]): void;
  reject(error: Error): void;
}

/**
 * `upload_request` → `upload_urls` round trips. A request made (or left unanswered) while the link is
 * down is sent again once it is back (`resendAll` after each welcome). Only time with the link up counts
 * towards `timeoutMs`: a control-plane restart delays the answer, it does not fail the upload.
 */
export class UploadUrlRequests {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly send: (message: Request) => boolean,
    private readonly timeoutMs: number,
    private readonly linkReady: () => boolean,
  ) {}

  request(
    lease: { run_id: string; lease_token: string },
    files: z.infer<typeof UploadRequestFile>[],
    signal: AbortSignal,
  ): Promise<Grant[]> {
    const message: Request = {
      type: "upload_request",
      request_id: randomUUID(),
      run_id: lease.run_id,
      lease_token: lease.lease_token,
      files,
    };
    return new Promise<Grant[]>((resolve, reject) => {
      const settle = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        this.pending.delete(message.request_id);
      };
      const onAbort = () => {
        settle();
        reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
      };
      let timer: NodeJS.Timeout;
      const onTimeout = () => {
        if (!this.linkReady()) {
          timer = setTimeout(onTimeout, this.timeoutMs);
          return;
        }
        settle();
        reject(new UploadError(`the control plane sent no upload URLs within ${this.timeoutMs} ms`));
      };
      timer = setTimeout(onTimeout, this.timeoutMs);
      signal.addEventListener("abort", onAbort, { once: true });
      this.pending.set(message.request_id, {
        message,
        resolve: (grants) => {
          settle();
          resolve(grants);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
      });
      this.send(message);
    });
  }

  answer(message: z.infer<typeof UploadUrlsMessage>): void {
    this.pending.get(message.request_id)?.resolve(message.files);
  }

  /** The server answered a request with an `error` message; true if it was one of ours. */
  refuse(requestId: string, reason: string): boolean {
    const pending = this.pending.get(requestId);
    pending?.reject(new UploadError(`the control plane refused the upload request: ${reason}`));
    return pending !== undefined;
  }

  resendAll(): void {
    for (const { message } of this.pending.values()) this.send(message);
  }
}
