/**
 * Publishes UpdateJobExecution and waits for its reply [DC-JOBS-update-retry]: a fresh clientToken
 * on every attempt; on no reply, `RequestThrottled` or `InternalError`, wait (initial, doubling,
 * 64× cap) and try again; any other rejection ends the attempts. A reply to any earlier attempt
 * of the same update counts, so a late reply after a reconnect is not wasted.
 */
import type { Connection } from "../mqtt/connection.ts";
import { backoffDelay } from "../util/backoff.ts";
import { newClientToken } from "./client-token.ts";
import type { RejectedResponse, UpdateJobExecutionRequest } from "../protocol/messages.ts";

export type UpdateResult = { readonly kind: "accepted" } | { readonly kind: "rejected"; readonly code: string; readonly message: string } | { readonly kind: "abandoned" };

type Reply = { kind: "accepted" } | { kind: "rejected"; rejection: RejectedResponse };

const RETRYABLE = new Set(["RequestThrottled", "InternalError"]);

export class UpdatePublisher {
  private readonly waiting = new Map<string, (reply: Reply) => void>();

  constructor(
    private readonly connection: Connection,
    private readonly updateTopic: (jobId: string) => string,
    private readonly retryMs: number,
  ) {}

  /** Routes an update/accepted or update/rejected reply; false when no attempt is waiting for it. */
  deliver(clientToken: string | undefined, reply: Reply): boolean {
    if (clientToken === undefined) return false;
    const resolve = this.waiting.get(clientToken);
    if (!resolve) return false;
    resolve(reply);
    return true;
  }

  /** Publishes once and does not wait; a rejection still reaches `onRejected`. */
  fireAndForget(jobId: string, request: Omit<UpdateJobExecutionRequest, "clientToken">, onRejected: (rejection: RejectedResponse) => void): void {
    const token = newClientToken();
    const timer = setTimeout(() => this.waiting.delete(token), 60_000);
    this.waiting.set(token, (reply) => {
      clearTimeout(timer);
      this.waiting.delete(token);
      if (reply.kind === "rejected") onRejected(reply.rejection);
    });
    this.connection.publish(this.updateTopic(jobId), JSON.stringify({ ...request, clientToken: token })).catch(() => {});
  }

  /** Publishes until the service answers (or `shouldStop` says to give up after `stopAttempts`). */
  async send(jobId: string, request: Omit<UpdateJobExecutionRequest, "clientToken">, shouldStop: () => boolean = () => false, stopAttempts = 3): Promise<UpdateResult> {
    const tokens: string[] = [];
    let settle!: (reply: Reply) => void;
    let replied: Promise<Reply> = new Promise((resolve) => (settle = resolve));
    try {
      for (let attempt = 0; ; attempt++) {
        if (shouldStop() && attempt >= stopAttempts) return { kind: "abandoned" };
        if (!this.connection.connected && !shouldStop()) await this.connection.whenConnected();
        const token = newClientToken();
        tokens.push(token);
        this.waiting.set(token, (reply) => settle(reply));
        this.connection.publish(this.updateTopic(jobId), JSON.stringify({ ...request, clientToken: token })).catch(() => {});
        // Each attempt waits longer for its reply: initial, doubling, capped at 64×.
        const wait = backoffDelay(attempt, this.retryMs, this.retryMs * 64);
        const reply = await Promise.race([replied, sleep(wait).then(() => undefined)]);
        if (reply?.kind === "accepted") return { kind: "accepted" };
        if (reply?.kind === "rejected") {
          const { code, message = "" } = reply.rejection;
          if (!RETRYABLE.has(code)) return { kind: "rejected", code, message };
          replied = new Promise((resolve) => (settle = resolve));
          await sleep(wait);
        }
      }
    } finally {
      for (const t of tokens) this.waiting.delete(t);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
