// Drives the local service's Jobs device API with AWS's own device SDK (aws-iot-device-sdk-v2,
// IotJobsClientv2 over MQTT 3.1.1). Runs under Node: the SDK's native addon does not load in Bun.
// Usage: node jobs-sdk-v2.mjs HOST PORT THING JOB_ID — prints READY once subscribed (the caller
// then creates the job), then one JSON line of results; exit 0 when every step went as expected.
import { iotjobs, mqtt, io } from "aws-iot-device-sdk-v2";
import { once } from "node:events";
import { createInterface } from "node:readline";

const [host, port, thingName, jobId] = process.argv.slice(2);
const fail = (why) => {
  console.error(`FAILED: ${why}`);
  process.exit(1);
};
setTimeout(() => fail("timed out"), 30_000).unref();

const connection = new mqtt.MqttClient().new_connection({
  client_id: thingName,
  host_name: host,
  port: Number(port),
  clean_session: true,
  keep_alive: 30,
  socket_options: new io.SocketOptions(io.SocketType.STREAM, io.SocketDomain.IPV4, 5000),
});
await connection.connect();
const jobs = iotjobs.IotJobsClientv2.newFromMqtt311(connection, {
  maxRequestResponseSubscriptions: 4,
  maxStreamingSubscriptions: 2,
  operationTimeoutInSeconds: 10,
});

const nextEvents = [];
const stream = jobs.createNextJobExecutionChangedStream({ thingName });
const subscribed = new Promise((resolve) => stream.on("subscriptionStatus", (e) => e.type === 0 && resolve()));
stream.on("incomingPublish", (e) => nextEvents.push(e.message));
stream.open();
await subscribed;
console.log("READY");

// The caller creates the job now and says GO.
const lines = createInterface({ input: process.stdin });
await once(lines, "line");

const until = Date.now() + 10_000;
while (!nextEvents.some((m) => m.execution?.jobId === jobId)) {
  if (Date.now() > until) fail(`no NextJobExecutionChanged event for ${jobId}: ${JSON.stringify(nextEvents)}`);
  await new Promise((r) => setTimeout(r, 20));
}
const pending = await jobs.getPendingJobExecutions({ thingName });
const started = await jobs.startNextPendingJobExecution({ thingName, statusDetails: { phase: "sdk-v2" } });
const described = await jobs.describeJobExecution({ thingName, jobId, includeJobDocument: true });
const updated = await jobs.updateJobExecution({
  thingName,
  jobId,
  status: iotjobs.model.JobStatus.SUCCEEDED,
  includeJobExecutionState: true,
});
let rejection;
try {
  await jobs.updateJobExecution({ thingName, jobId, status: iotjobs.model.JobStatus.IN_PROGRESS });
} catch (error) {
  rejection = error?.modeledError ?? { message: String(error) };
}
console.log(
  JSON.stringify({
    next: nextEvents.find((m) => m.execution?.jobId === jobId).execution.status,
    queued: pending.queuedJobs?.map((j) => j.jobId),
    started: {
      jobId: started.execution?.jobId,
      status: started.execution?.status,
      details: started.execution?.statusDetails,
    },
    document: described.execution?.jobDocument,
    updated: updated.executionState?.status,
    rejection: { code: rejection?.code, hasState: Boolean(rejection?.executionState) },
  }),
);
stream.close();
jobs.close();
await connection.disconnect();
process.exit(0);
