/**
 * The Jobs device API over HTTP (iot-jobs-data): the four operations a device calls, on the same
 * engine and with the same request checks as the MQTT API (src/service/jobs/device-api.ts), so a
 * request refused on one is refused on the other with the same words.
 */
import { ServiceError } from "../../errors.ts";
import type { JobsEngine } from "../../jobs/jobs-engine.ts";
import type { JobExecutionStatus } from "../../../jobs/messages.ts";
import { deviceStatusProblem, statusDetailsProblem, stepTimeoutProblem } from "../../jobs/request-checks.ts";
import type { Fleet } from "../../registry/fleet.ts";
import type { Operations } from "../router.ts";
import { deviceExecution } from "../shapes.ts";
import { engineError } from "./jobs.ts";

const refuse = (problem: string | undefined) => {
  if (problem) throw new ServiceError("InvalidRequest", problem);
};

export function jobsDataRoutes(engine: JobsEngine, fleet: Fleet): Operations {
  const thing = (name: string) => fleet.thing(name).thingName;
  return {
    GetPendingJobExecutions: {
      honours: ["thingName"],
      handle: (input) => engine.pendingLists(thing(input.thingName)),
    },
    StartNextPendingJobExecution: {
      honours: ["thingName", "statusDetails", "stepTimeoutInMinutes"],
      handle: (input) => {
        refuse(statusDetailsProblem(input.statusDetails) ?? stepTimeoutProblem(input.stepTimeoutInMinutes, false));
        const e = engine.startNext(thing(input.thingName), input.statusDetails, input.stepTimeoutInMinutes);
        return e ? { execution: deviceExecution(engine, e, true) } : {};
      },
    },
    DescribeJobExecution: {
      honours: ["jobId", "thingName", "includeJobDocument", "executionNumber"],
      handle: (input) => {
        const name = thing(input.thingName);
        // As on MQTT, the document is included unless includeJobDocument is false.
        const withDocument = input.includeJobDocument !== false;
        if (input.jobId === "$next") {
          const next = engine.pending(name)[0];
          return next ? { execution: deviceExecution(engine, next, withDocument) } : {};
        }
        const e = engine.execution(input.jobId, name, input.executionNumber);
        if (!e)
          throw new ServiceError("ResourceNotFound", `Job execution for job ${input.jobId} on thing ${name} not found`);
        return { execution: deviceExecution(engine, e, withDocument) };
      },
    },
    UpdateJobExecution: {
      honours: [
        "jobId",
        "thingName",
        "status",
        "statusDetails",
        "stepTimeoutInMinutes",
        "expectedVersion",
        "includeJobExecutionState",
        "includeJobDocument",
        "executionNumber",
      ],
      handle: (input) => {
        refuse(
          deviceStatusProblem(input.status) ??
            statusDetailsProblem(input.statusDetails) ??
            stepTimeoutProblem(input.stepTimeoutInMinutes, true),
        );
        const result = engine.update(thing(input.thingName), input.jobId, {
          status: input.status as JobExecutionStatus,
          statusDetails: input.statusDetails,
          expectedVersion: input.expectedVersion,
          executionNumber: input.executionNumber,
          stepTimeoutInMinutes: input.stepTimeoutInMinutes,
        });
        if (!result.ok) throw engineError(result.code, result.message);
        return {
          ...(input.includeJobExecutionState === true ? { executionState: engine.state(result.value) } : {}),
          ...(input.includeJobDocument === true
            ? { jobDocument: JSON.stringify(engine.documentObject(input.jobId)) }
            : {}),
        };
      },
    },
  };
}
