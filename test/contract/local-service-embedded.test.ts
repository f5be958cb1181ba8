import { runJobsContract } from "./jobs-contract.ts";
import { localService } from "./implementations.ts";

runJobsContract({ name: "iot-jobs-local, embedded broker", start: () => localService("embedded") });
