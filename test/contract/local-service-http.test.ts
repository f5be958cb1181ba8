/**
 * The Jobs contract suite over HTTP: every request/response case against iot-jobs-local's
 * iot-jobs-data operations, called with botocore (python3) at an endpoint override. Only what does
 * not exist over HTTP is skipped, each with its reason.
 */
import { test } from "bun:test";
import { localService } from "./implementations.ts";
import { hasBotocore } from "./iot-jobs-data-device.ts";
import { runJobsContract } from "./jobs-contract.ts";

const PUSHES = "MQTT only: iot-jobs-data has no notify / notify-next pushes";

if (hasBotocore())
  runJobsContract({
    name: "iot-jobs-local, iot-jobs-data over HTTP (botocore)",
    start: () => localService("embedded"),
    transport: "http",
    skip: {
      "the reference's worked sequence of notify and notify-next": PUSHES,
      "starting a job behind the head makes it the head: notify-next only (the set did not change)": PUSHES,
      "the last job ending: notify-next without an execution, notify with no jobs": PUSHES,
      "what an SDK cannot send: a payload not JSON (InvalidJson) or not an object, statusDetails a list, no such topic":
        "MQTT only: botocore sends a JSON object, statusDetails a map, to a path of the model " +
        "(malformed HTTP bodies and paths: test/service/http-*.test.ts)",
      "clientToken: echoed on every reply; over 64 characters it is InvalidRequest and not echoed":
        "MQTT only: iot-jobs-data's operations have no clientToken",
      "malformed input on every request topic gets a clear rejection, and serving goes on":
        "MQTT only: raw payloads on request topics; an SDK call always sends a JSON object",
    },
  });
else test.skip("Jobs contract over HTTP (SKIPPED: python3 with botocore is not installed)", () => {});
