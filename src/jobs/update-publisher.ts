/**
 * Publishes UpdateJobExecution and waits for its reply [DC-JOBS-update-retry]: a fresh clientToken
 * on every attempt; on no reply, `RequestThrottled` or `InternalError`, wait (initial, doubling,
 * 64× cap) and try again; any other rejection ends the attempts. A reply to any earlier attempt
 * of the same update counts, so a late reply after a reconnect is not wasted.
 *
 * Every request's statusDetails pass the one gate (`reportableDetails`) here, where they leave
 * the agent. Waits run on the injected Clock (a 64× backoff may exceed the runtime's 32-bit timer),
 * and every timer is cancelled as soon as its reason is gone (a reply, an abort).
 */
import type { Connection } from "../mqtt/connection.ts";
import { reportableDetails } from "../runner/sanitize.ts";
import { backoffDelay } from "../util/backoff.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { newClientToken } from "./client-token.ts";
import type { RejectedResponse, UpdateJobExecutionRequest } from "../protocol/messages.ts";

export type UpdateResult =
  /** jobDocument: the service's copy, when the request asked for it (includeJobDocument). */
  | { readonly kind: "accepted"; readonly jobDocument?: unknown }
  | {
      readonly kind: "rejected";
      readonly code: string;
      readonly message: string;
      /** The execution's status and version the service reported with the refusal (VersionMismatch, …). */
      readonly currentStatus?: string;
      readonly currentVersion?: number;
    }
  | { readonly kind: "abandoned" };

export type UpdateRequest = Omit<UpdateJobExecutionRequest, "clientToken">;

type Reply = { kind: "accepted"; jobDocument?: unknown } | { kind: "rejected"; rejection: RejectedResponse };

const RETRYABLE = new Set(["RequestThrottled", "InternalError"]);

/** How long a fire-and-forget update's rejection is still listened for. */
const FIRE_AND_FORGET_LISTEN_MS = 60_000;

export interface SendOptions {
  /** Once true, at most `stopAttempts` attempts are made in all (shutdown). */
  readonly shouldStop?: () => boolean;
  readonly stopAttempts?: number;
  /** Aborting ends the attempts at once with "abandoned" (a newer update superseded this one). */
  readonly signal?: AbortSignal;
}

export class UpdatePublisher {
  private readonly waiting = new Map<string, (reply: Reply) => void>();

  constructor(
    private readonly connection: Connection,
    private readonly updateTopic: (jobId: string) => string,
    private readonly retryMs: number,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Routes an update/accepted or update/rejected reply; false when no attempt is waiting for it. */
  deliver(clientToken: string | undefined, reply: Reply): boolean {
    if (clientToken === undefined) return false;
    const resolve = this.waiting.get(clientToken);
    if (!resolve) return false;
    resolve(reply);
    return true;
  }

  /** Replies still awaited (tests check nothing is left behind). */
  get awaiting(): number {
    return this.waiting.size;
  }

  /** Publishes once and does not wait; a rejection still reaches `onRejected`. */
  fireAndForget(jobId: string, request: UpdateRequest, onRejected: (rejection: RejectedResponse) => void): void {
    const token = newClientToken();
    const timer = this.clock.setTimeout(() => this.waiting.delete(token), FIRE_AND_FORGET_LISTEN_MS);
    this.waiting.set(token, (reply) => {
      timer.cancel();
      this.waiting.delete(token);
      if (reply.kind === "rejected") onRejected(reply.rejection);
    });
    this.publish(jobId, request, token);
  }

  /** Publishes until the service answers (or `shouldStop`/`signal` says to give up). */
  async send(jobId: string, request: UpdateRequest, options: SendOptions = {}): Promise<UpdateResult> {
    const { shouldStop = () => false, stopAttempts = 3, signal } = options;
    const tokens: string[] = [];
    let settle!: (reply: Reply | "aborted") => void;
    let replied = new Promise<Reply | "aborted">((resolve) => (settle = resolve));
    const onAbort = () => settle("aborted");
    signal?.addEventListener("abort", onAbort);
    try {
      for (let attempt = 0; ; attempt++) {
        if (signal?.aborted) return { kind: "abandoned" };
        if (shouldStop() && attempt >= stopAttempts) return { kind: "abandoned" };
        if (!this.connection.connected && !shouldStop()) {
          const up = await Promise.race([this.connection.whenConnected(), replied]);
          if (up === "aborted") return { kind: "abandoned" };
        }
        const token = newClientToken();
        tokens.push(token);
        this.waiting.set(token, (reply) => settle(reply));
        this.publish(jobId, request, token);
        // Each attempt waits longer for its reply: initial, doubling, capped at 64×.
        const wait = backoffDelay(attempt, this.retryMs, this.retryMs * 64);
        const reply = await this.raceTimer(replied, wait);
        if (reply === "aborted") return { kind: "abandoned" };
        if (reply?.kind === "accepted")
          return reply.jobDocument === undefined
            ? { kind: "accepted" }
            : { kind: "accepted", jobDocument: reply.jobDocument };
        if (reply?.kind === "rejected") {
          const { code, message = "" } = reply.rejection;
          const currentStatus = reply.rejection.executionState?.status;
          const currentVersion = reply.rejection.executionState?.versionNumber;
          if (!RETRYABLE.has(code))
            return {
              kind: "rejected",
              code,
              message,
              ...(currentStatus ? { currentStatus } : {}),
              ...(typeof currentVersion === "number" ? { currentVersion } : {}),
            };
          replied = new Promise((resolve) => (settle = resolve));
          if (signal?.aborted) return { kind: "abandoned" };
          if ((await this.raceTimer(replied, wait)) === "aborted") return { kind: "abandoned" };
        }
      }
    } finally {
      signal?.removeEventListener("abort", onAbort);
      for (const t of tokens) this.waiting.delete(t);
    }
  }

  /** `reply` or undefined after `ms`; the timer is cancelled when the reply comes first. */
  private async raceTimer<T>(reply: Promise<T>, ms: number): Promise<T | undefined> {
    let timer: { cancel(): void } | undefined;
    const elapsed = new Promise<undefined>((resolve) => (timer = this.clock.setTimeout(() => resolve(undefined), ms)));
    try {
      return await Promise.race([reply, elapsed]);
    } finally {
      timer?.cancel();
    }
  }

  private publish(jobId: string, request: UpdateRequest, clientToken: string): void {
    const body = request.statusDetails
      ? { ...request, statusDetails: reportableDetails(request.statusDetails) }
      : request;
    // One unacknowledged update per job topic: a newer attempt replaces an older one in the window.
    const topic = this.updateTopic(jobId);
    // Every reply carries the execution's version: the agent tracks it for its terminal report.
    this.connection
      .publish(topic, JSON.stringify({ ...body, includeJobExecutionState: true, clientToken }), { replace: topic })
      .catch(() => {});
  }
}
