import { test } from "bun:test";
import { mosquittoPath } from "../helpers/mosquitto.ts";
import { runJobsContract } from "./jobs-contract.ts";
import { jobsPeer } from "./implementations.ts";

if (mosquittoPath()) runJobsContract({ name: "the agent tests' Jobs peer over Mosquitto", start: jobsPeer });
else test.skip("Jobs contract: the test peer (SKIPPED: mosquitto is not installed)", () => {});
