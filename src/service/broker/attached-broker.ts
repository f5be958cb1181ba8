/**
 * `--broker mqtt://host:port`: the service joins an existing broker (Mosquitto) as one client
 * subscribed to every thing's Jobs and shadow topics. Limits, because it is only a client: replies
 * go to whoever subscribed to the reply topic (not only the requester), and the broker's own ACL
 * must keep things to their topics (Mosquitto: `pattern readwrite $aws/things/%c/#`).
 *
 * What the service can still bound as a client: a request over 128 KB is dropped, and so is a
 * thing's request above MQTT_LIMITS.requestsPerSecond (the broker cannot be told to stop reading
 * one device), both logged as refusal summaries. Packet sizes, queues and retained messages are
 * the broker's to limit (docs/LOCAL-SERVICE.md).
 */
import { MqttClient } from "../../mqtt/client.ts";
import { jitteredDelay } from "../../util/backoff.ts";
import { isServiceRequestTopic, SERVICE_REQUEST_FILTERS, thingOfTopic } from "../../protocol/topics.ts";
import { type Clock, systemClock } from "../../util/clock.ts";
import { MQTT_LIMITS } from "../limits.ts";
import { RefusalLog, type RefusalSink } from "./refusal-log.ts";
import { TokenBucket } from "./token-bucket.ts";
import type { RequestHandler, Transport } from "./transport.ts";

export interface AttachOptions {
  /** Where refusals are logged (already rate-limited here). */
  readonly logRefusal?: RefusalSink;
  /** Time of the request rate and the refusal summaries. */
  readonly clock?: Clock;
}

/** Forget every thing's bucket beyond this many things (names come from topics, unchecked). */
const MAX_TRACKED_THINGS = 10_000;

export async function attachToBroker(
  url: string,
  onRequest: RequestHandler,
  onError: (message: string) => void,
  options: AttachOptions = {},
): Promise<Transport> {
  const clock = options.clock ?? systemClock;
  const refusals = new RefusalLog(clock, MQTT_LIMITS.refusalLogIntervalMs, options.logRefusal ?? (() => {}));
  const buckets = new Map<string, TokenBucket>();
  const withinRate = (thing: string): boolean => {
    let bucket = buckets.get(thing);
    if (!bucket) {
      if (buckets.size >= MAX_TRACKED_THINGS) buckets.clear();
      bucket = new TokenBucket(clock, MQTT_LIMITS.requestsPerSecond, MQTT_LIMITS.requestBurst);
      buckets.set(thing, bucket);
    }
    return bucket.take();
  };
  const parsed = /^mqtt:\/\/([^/:]+|\[[^\]]+\]):(\d+)\/?$/.exec(url);
  if (!parsed) throw new Error(`--broker must look like mqtt://host:port, not ${JSON.stringify(url)}`);
  const filters = [...SERVICE_REQUEST_FILTERS];
  let subscribed!: () => void;
  const ready = new Promise<void>((resolve) => (subscribed = resolve));
  const client = new MqttClient(
    {
      host: parsed[1]!.replace(/^\[|\]$/g, ""),
      port: Number(parsed[2]),
      clientId: `iot-jobs-local-${process.pid}`,
      cleanSession: true,
      keepaliveSeconds: 30,
      reconnectDelayMs: (n) => jitteredDelay(n - 1, 200, 10_000),
    },
    {
      // A clean session: subscribe on every connect. The first one also means "ready".
      connect: () => void client.subscribe(filters, 1).then(() => subscribed()),
      message: (topic, payload) => {
        if (!isServiceRequestTopic(topic)) return;
        const thing = thingOfTopic(topic) ?? "";
        if (payload.length > MQTT_LIMITS.maxPayloadBytes) {
          return refusals.record({
            kind: "packet too large",
            clientId: thing,
            detail: `${payload.length} bytes on ${topic}`,
          });
        }
        if (!withinRate(thing))
          return refusals.record({ kind: "over the request rate (dropped)", clientId: thing, detail: topic });
        onRequest(topic, payload, (replyTopic, body) => void client.publish(replyTopic, body, 1));
      },
      error: onError,
    },
  );
  // Subscriptions must be in place before anyone is told the service is ready.
  let timer: Timer | undefined;
  const timedOut = await Promise.race([
    ready.then(() => false),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), 10_000))),
  ]);
  clearTimeout(timer);
  if (timedOut) {
    client.close(false);
    refusals.close();
    throw new Error(`cannot connect to the broker at ${url}`);
  }
  return {
    url,
    publish: (topic, payload) => void client.publish(topic, payload, 1),
    close: async () => {
      client.close(true);
      refusals.close();
    },
  };
}
