/**
 * The embedded broker (aedes on a loopback port) with the AWS IoT policy of the specification: only
 * registered things connect (client id = thing name), and a client may publish and subscribe only
 * under `$aws/things/<its client id>/`. Service requests
 * are answered straight to the requesting connection — whether or not it subscribed to the reply
 * topic, and never to anyone else — as AWS IoT does for the Jobs API.
 */
import { Aedes, type Client } from "aedes";
import { createServer, type Server } from "node:net";
import { isServiceRequestTopic, thingTopicPrefix } from "../../protocol/topics.ts";
import type { RequestHandler, Transport } from "./transport.ts";

export interface EmbeddedBrokerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly onRequest: RequestHandler;
  /** Only registered things may connect (their client id is their thing name), as with AWS IoT
   * policies bound to the thing; others get CONNACK "not authorized". */
  readonly isRegisteredThing: (clientId: string) => boolean;
  /** Refusals (a client outside its own topics), for the log. */
  readonly onRefused?: (clientId: string, what: string) => void;
}

const REPLY_BROKER_ID = "iot-jobs-local-direct-replies";
let replyCounter = 0;

const ownPrefix = (client: Client | null) => thingTopicPrefix(client?.id ?? "");

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<Transport> {
  const broker = await Aedes.createBroker({ maxClientsIdLength: 128, drainTimeout: 30_000, heartbeatInterval: 3_600_000 });

  broker.authenticate = (client, _username, _password, callback) => {
    if (options.isRegisteredThing(client.id)) return callback(null, true);
    options.onRefused?.(client.id, "connect: no registered thing has this name (CreateThing first)");
    const error = Object.assign(new Error(`client id ${client.id} is not a registered thing`), { returnCode: 5 });
    callback(error as Error & { returnCode: number }, false);
  };

  broker.authorizePublish = (client, packet, callback) => {
    if (!client) return callback(null); // the broker's own messages
    if (!packet.topic.startsWith(ownPrefix(client))) {
      options.onRefused?.(client.id, `publish to ${packet.topic}`);
      // AWS IoT disconnects a client that publishes outside its policy.
      return callback(new Error(`client ${client.id} may not publish to ${packet.topic}`));
    }
    if (isServiceRequestTopic(packet.topic)) {
      const payload = typeof packet.payload === "string" ? new TextEncoder().encode(packet.payload) : new Uint8Array(packet.payload);
      try {
        options.onRequest(packet.topic, payload, (topic, body) => {
          // Direct replies get their own broker id and counter: aedes drops, as duplicates, packets
          // whose counter is below the last one it delivered to a client, and a reply created now
          // would otherwise outrank a notification still on its way through the broker.
          const reply = { cmd: "publish" as const, topic, payload: Buffer.from(body), qos: 1 as const, retain: false, dup: false, brokerId: REPLY_BROKER_ID, brokerCounter: ++replyCounter };
          client.publish(reply, () => {});
        });
      } catch (error) {
        // A bug must not take the broker down; the requester simply gets no answer.
        options.onRefused?.(client.id, `request on ${packet.topic} failed: ${(error as Error).message}`);
      }
    }
    callback(null);
  };

  broker.authorizeSubscribe = (client, subscription, callback) => {
    if (!subscription.topic.startsWith(ownPrefix(client))) {
      options.onRefused?.(client.id, `subscribe to ${subscription.topic}`);
      return callback(null, null); // SUBACK 0x80
    }
    callback(null, subscription);
  };

  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;

  return {
    url: `mqtt://${host}:${port}`,
    publish(topic, payload) {
      broker.publish({ cmd: "publish", topic, payload: Buffer.from(payload), qos: 1, retain: false, dup: false }, () => {});
    },
    async close() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
