/**
 * The Jobs device MQTT API: a publish on `$aws/things/<thing>/jobs/...` in, the replies for the
 * requester out (accepted / rejected with clientToken echoed and an epoch-seconds timestamp).
 * Pure over the engine: no broker here, so it is the same behind aedes or Mosquitto.
 */
import { parseJobsTopic } from "../../jobs/topics.ts";
import type { JobExecutionStatus } from "../../jobs/messages.ts";
import { deviceErrorCode } from "../errors.ts";
import type { Clock, JobsEngine, RejectCode } from "./jobs-engine.ts";
import { deviceStatusProblem, optionalTypeProblem, statusDetailsProblem, stepTimeoutProblem } from "./request-checks.ts";

export interface Reply {
  readonly topic: string;
  readonly payload: Record<string, unknown>;
}

type Code = RejectCode | "InvalidTopic" | "InvalidJson";

/** Tokens longer than this are refused (the shadow service's limit; the Jobs API documents none). */
export const MAX_CLIENT_TOKEN = 64;

export class JobsDeviceApi {
  constructor(
    private readonly engine: JobsEngine,
    private readonly clock: Clock,
  ) {}

  private seconds(): number {
    return Math.floor(this.clock.now() / 1000);
  }

  /** Handles one request published by `thing` (already authorised to use its own topics). */
  handle(topic: string, payload: Uint8Array | string): Reply[] {
    const parsed = parseJobsTopic(topic);
    const reject = (code: Code, message: string, clientToken?: string, extra: Record<string, unknown> = {}): Reply[] => [
      { topic: `${topic}/rejected`, payload: { code, message, ...(clientToken !== undefined ? { clientToken } : {}), timestamp: this.seconds(), ...extra } },
    ];
    if (!parsed || parsed.topic.kind === "notify" || parsed.topic.kind === "notify-next" || parsed.topic.reply) {
      return reject("InvalidTopic", `Topic ${topic} is not a Jobs API request topic`);
    }
    let body: Record<string, unknown>;
    try {
      const text = typeof payload === "string" ? payload : new TextDecoder("utf-8", { fatal: true }).decode(payload);
      const value: unknown = text.trim() === "" ? {} : JSON.parse(text);
      if (value === null || typeof value !== "object" || Array.isArray(value)) return reject("InvalidRequest", "The payload must be a JSON object");
      body = value as Record<string, unknown>;
    } catch {
      return reject("InvalidJson", "The payload is not valid UTF-8 JSON");
    }
    const token = body.clientToken;
    if (token !== undefined && (typeof token !== "string" || token.length > MAX_CLIENT_TOKEN)) return reject("InvalidRequest", `clientToken must be a string of at most ${MAX_CLIENT_TOKEN} characters`);
    const clientToken = token as string | undefined;
    const accept = (fields: Record<string, unknown>): Reply[] => [
      { topic: `${topic}/accepted`, payload: { ...fields, timestamp: this.seconds(), ...(clientToken !== undefined ? { clientToken } : {}) } },
    ];
    const thing = parsed.thing;
    const t = parsed.topic;

    switch (t.kind) {
      case "get":
        return accept(this.engine.pendingLists(thing));

      case "start-next": {
        const problem = statusDetailsProblem(body.statusDetails) ?? stepTimeoutProblem(body.stepTimeoutInMinutes, false);
        if (problem) return reject("InvalidRequest", problem, clientToken);
        const e = this.engine.startNext(thing, body.statusDetails as Record<string, string> | undefined, body.stepTimeoutInMinutes as number | undefined);
        return accept(e ? { execution: this.engine.executionJson(e, true) } : {});
      }

      case "describe": {
        const problem = optionalTypeProblem(body, "executionNumber", "number") ?? optionalTypeProblem(body, "includeJobDocument", "boolean");
        if (problem) return reject("InvalidRequest", problem, clientToken);
        const withDocument = body.includeJobDocument !== false;
        if (t.jobId === "$next") {
          const next = this.engine.pending(thing)[0];
          return accept(next ? { execution: this.engine.executionJson(next, withDocument) } : {});
        }
        const e = this.engine.execution(t.jobId, thing, body.executionNumber as number | undefined);
        if (!e) return reject("ResourceNotFound", `Job execution for job ${t.jobId} on thing ${thing} not found`, clientToken);
        return accept({ execution: this.engine.executionJson(e, withDocument) });
      }

      case "update": {
        const problem =
          deviceStatusProblem(body.status) ??
          statusDetailsProblem(body.statusDetails) ??
          stepTimeoutProblem(body.stepTimeoutInMinutes, true) ??
          optionalTypeProblem(body, "expectedVersion", "number") ??
          optionalTypeProblem(body, "executionNumber", "number") ??
          optionalTypeProblem(body, "includeJobExecutionState", "boolean") ??
          optionalTypeProblem(body, "includeJobDocument", "boolean");
        if (problem) return reject("InvalidRequest", problem, clientToken);
        const result = this.engine.update(thing, t.jobId, {
          status: body.status as JobExecutionStatus,
          statusDetails: body.statusDetails as Record<string, string> | undefined,
          expectedVersion: body.expectedVersion as number | undefined,
          executionNumber: body.executionNumber as number | undefined,
          stepTimeoutInMinutes: body.stepTimeoutInMinutes as number | undefined,
        });
        if (!result.ok) return reject(deviceErrorCode(result.error), result.error.message, clientToken, result.executionState ? { executionState: result.executionState } : {});
        const fields: Record<string, unknown> = {};
        if (body.includeJobExecutionState === true) fields.executionState = this.engine.state(result.value);
        if (body.includeJobDocument === true) fields.jobDocument = this.engine.documentObject(t.jobId);
        return accept(fields);
      }
    }
  }
}
