import { test } from "bun:test";
import { mosquittoPath } from "../helpers/mosquitto.ts";
import { runJobsContract } from "./jobs-contract.ts";
import { localService } from "./implementations.ts";

if (mosquittoPath())
  runJobsContract({ name: "iot-jobs-local attached to Mosquitto", start: () => localService("mosquitto") });
else test.skip("Jobs contract: iot-jobs-local attached to Mosquitto (SKIPPED: mosquitto is not installed)", () => {});
