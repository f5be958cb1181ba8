/**
 * `--broker mqtt://host:port`: the service joins an existing broker (Mosquitto) as one client
 * subscribed to every thing's Jobs and shadow topics. Limits, because it is only a client: replies
 * go to whoever subscribed to the reply topic (not only the requester), and the broker's own ACL
 * must keep things to their topics (Mosquitto: `pattern readwrite $aws/things/%c/#`).
 */
import { MqttClient } from "../../mqtt/client.ts";
import { jitteredDelay } from "../../util/backoff.ts";
import { isServiceRequestTopic, SERVICE_REQUEST_FILTERS } from "../../protocol/topics.ts";
import type { RequestHandler, Transport } from "./transport.ts";

export async function attachToBroker(url: string, onRequest: RequestHandler, onError: (message: string) => void): Promise<Transport> {
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
        if (isServiceRequestTopic(topic)) onRequest(topic, payload, (replyTopic, body) => void client.publish(replyTopic, body, 1));
      },
      error: onError,
    },
  );
  // Subscriptions must be in place before anyone is told the service is ready.
  let timer: Timer | undefined;
  const timedOut = await Promise.race([ready.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), 10_000)))]);
  clearTimeout(timer);
  if (timedOut) {
    client.close(false);
    throw new Error(`cannot connect to the broker at ${url}`);
  }
  return {
    url,
    publish: (topic, payload) => void client.publish(topic, payload, 1),
    close: async () => client.close(true),
  };
}
