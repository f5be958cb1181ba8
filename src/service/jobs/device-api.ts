/**
 * The Jobs device MQTT API: a publish on `$aws/things/<thing>/jobs/...` in, the replies for the
 * requester out (accepted / rejected with clientToken echoed and an epoch-seconds timestamp).
 * Requests are decoded by the protocol's schemas (src/protocol/messages.ts), so every field rule
 * lives there; this file only maps typed requests onto the engine. Pure over the engine: no
 * broker here, so it is the same behind aedes or Mosquitto.
 */
import {
  acceptedPayload,
  decodeJobsRequest,
  type RejectedErrorCode,
  rejectedPayload,
} from "../../protocol/messages.ts";
import { NEXT_JOB_ID } from "../../protocol/ids.ts";
import { replyTopic } from "../../protocol/topics.ts";
import { deviceErrorCode, ServiceError } from "../errors.ts";
import type { Clock, JobsEngine, Outcome } from "./jobs-engine.ts";

export interface Reply {
  readonly topic: string;
  readonly payload: Record<string, unknown>;
}

interface Rejection {
  readonly code: RejectedErrorCode;
  readonly message: string;
  readonly executionState?: object;
}

/** The engine's refusal → the device's rejection. */
function engineRejection(failure: Extract<Outcome<unknown>, { ok: false }>): Rejection {
  return {
    code: deviceErrorCode(failure.error),
    message: failure.error.message,
    executionState: failure.executionState,
  };
}

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
    const reject = (r: Rejection, clientToken: string | undefined): Reply[] => [
      {
        topic: replyTopic(topic, "rejected"),
        payload: rejectedPayload(r.code, r.message, this.seconds(), clientToken, r.executionState),
      },
    ];
    const decoded = decodeJobsRequest(topic, payload);
    if (!decoded.ok) return reject(decoded, decoded.clientToken);
    const request = decoded.request;
    const { thing, body } = request;
    const clientToken = body.clientToken;
    const accept = (fields: object): Reply[] => [
      { topic: replyTopic(topic, "accepted"), payload: acceptedPayload(fields, this.seconds(), clientToken) },
    ];

    try {
      switch (request.kind) {
        case "get":
          return accept(this.engine.pendingLists(thing));

        case "start-next": {
          const { statusDetails, stepTimeoutInMinutes } = request.body;
          const e = this.engine.startNext(thing, statusDetails, stepTimeoutInMinutes);
          return accept(e ? { execution: this.engine.executionJson(e, true) } : {});
        }

        case "describe": {
          const { jobId } = request;
          const withDocument = request.body.includeJobDocument ?? true;
          if (jobId === NEXT_JOB_ID) {
            const next = this.engine.pending(thing)[0];
            return accept(next ? { execution: this.engine.executionJson(next, withDocument) } : {});
          }
          const e = this.engine.execution(jobId, thing, request.body.executionNumber);
          if (!e)
            return reject(
              { code: "ResourceNotFound", message: `Job execution for job ${jobId} on thing ${thing} not found` },
              clientToken,
            );
          return accept({ execution: this.engine.executionJson(e, withDocument) });
        }

        case "update": {
          const { jobId, body: update } = request;
          const result = this.engine.update(thing, jobId, update);
          if (!result.ok) return reject(engineRejection(result), clientToken);
          const fields: Record<string, unknown> = {};
          if (update.includeJobExecutionState === true) fields.executionState = this.engine.state(result.value);
          if (update.includeJobDocument === true) fields.jobDocument = this.engine.documentObject(jobId);
          return accept(fields);
        }
      }
    } catch (error) {
      // Domain code that fails with the service's error type: the one mapping to device codes.
      if (error instanceof ServiceError)
        return reject({ code: deviceErrorCode(error), message: error.message }, clientToken);
      throw error;
    }
  }
}
