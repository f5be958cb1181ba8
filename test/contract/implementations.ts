/**
 * The implementations the Jobs contract suite runs against: iot-jobs-local (jobs and things
 * created through @aws-sdk/client-iot, as a user would; its device API over MQTT and over HTTP)
 * and the agent tests' peer (MQTT only).
 */
import { CancelJobExecutionCommand, CreateJobCommand, CreateThingCommand } from "@aws-sdk/client-iot";
import { JobsPeer } from "../helpers/jobs-peer.ts";
import { iotClient, startLocalService, thingArn } from "../helpers/local-service.ts";
import { Mosquitto } from "../helpers/mosquitto.ts";
import type { JobsImplementation } from "./jobs-contract.ts";

/** A timeout "minute" in the contract suite. */
const MINUTE_MS = 300;

/** iot-jobs-local: its embedded broker, or attached to a Mosquitto started here. */
export async function localService(broker: "embedded" | "mosquitto"): Promise<JobsImplementation> {
  const mosquitto = broker === "mosquitto" ? await Mosquitto.start() : undefined;
  const service = await startLocalService({ minuteMs: MINUTE_MS, ...(mosquitto ? { broker: mosquitto.url } : {}) });
  const iot = iotClient(service.httpUrl);
  return {
    mqttUrl: service.mqttUrl,
    httpUrl: service.httpUrl,
    directReplies: !mosquitto,
    minuteMs: MINUTE_MS,
    createThing: async (thingName) => void (await iot.send(new CreateThingCommand({ thingName }))),
    createJob: async (jobId, things, document) =>
      void (await iot.send(
        new CreateJobCommand({ jobId, targets: things.map(thingArn), document: JSON.stringify(document) }),
      )),
    forceCancel: async (jobId, thingName) =>
      void (await iot.send(new CancelJobExecutionCommand({ jobId, thingName, force: true }))),
    async stop() {
      await service.stop();
      await mosquitto?.stop();
    },
  };
}

/** The test peer on a Mosquitto started here (things need no registration there). */
export async function jobsPeer(): Promise<JobsImplementation> {
  const mosquitto = await Mosquitto.start();
  const peer = await JobsPeer.start(mosquitto.url, { minuteMs: MINUTE_MS });
  return {
    mqttUrl: mosquitto.url,
    directReplies: false,
    minuteMs: MINUTE_MS,
    createThing: async () => {},
    createJob: async (jobId, things, document) => {
      for (const thing of things) peer.queueJob(thing, jobId, document);
    },
    forceCancel: async (jobId, thing) => peer.cancel(thing, jobId),
    async stop() {
      await peer.stop();
      await mosquitto.stop();
    },
  };
}
