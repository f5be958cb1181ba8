/**
 * The embedded broker (aedes on a loopback port) with the AWS IoT policy of the specification: only
 * registered things connect (client id = thing name), and a client may publish and subscribe only
 * under `$aws/things/<its client id>/` (thing-policy.ts). Service requests are answered straight
 * to the requesting connection — whether or not it subscribed to the reply topic, and never to
 * anyone else — as AWS IoT does for the Jobs API.
 *
 * Every resource a client can make the broker hold is bounded (limits.ts, MQTT_LIMITS): packet
 * size and topics on the raw bytes and the request rate (guarded-connection.ts), unsent output,
 * connections that have not completed CONNECT, their deadline and what their CONNECTs may
 * declare (admission.ts), subscriptions per connection, persistent-session queues
 * (bounded-persistence.ts), and retained messages (none on `$aws/…`). Refusals are logged as
 * one summary per interval (refusal-log.ts).
 */
import { Aedes, type Client } from "aedes";
import { createServer, type Server, type Socket } from "node:net";
import { type Clock, systemClock } from "../../util/clock.ts";
import { MQTT_LIMITS } from "../limits.ts";
import { Admission } from "./admission.ts";
import { BoundedPersistence } from "./bounded-persistence.ts";
import { GuardedConnection } from "./guarded-connection.ts";
import { RefusalLog, type RefusalSink } from "./refusal-log.ts";
import { decidePublish, maySubscribe } from "./thing-policy.ts";
import type { RequestHandler, Transport } from "./transport.ts";

export interface EmbeddedBrokerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly onRequest: RequestHandler;
  /** Only registered things may connect (their client id is their thing name), as with AWS IoT
   * policies bound to the thing; others get CONNACK "not authorized". */
  readonly isRegisteredThing: (clientId: string) => boolean;
  /** Where refusals are logged (already rate-limited here). */
  readonly logRefusal?: RefusalSink;
  /** Timers of the CONNECT deadline, the rate limit and the refusal summaries. */
  readonly clock?: Clock;
}

/** aedes' per-client subscription table (documented in its Client.md, missing from its types). */
const subscriptionsOf = (client: Client) =>
  (client as Client & { subscriptions: Record<string, unknown> }).subscriptions;

const REPLY_BROKER_ID = "iot-jobs-local-direct-replies";
let replyCounter = 0;

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<Transport> {
  const clock = options.clock ?? systemClock;
  const refusals = new RefusalLog(clock, MQTT_LIMITS.refusalLogIntervalMs, options.logRefusal ?? (() => {}));
  const persistence = new BoundedPersistence((clientId, topic) =>
    refusals.record({ kind: "persistent session queue full", clientId, detail: topic }),
  );
  const broker = await Aedes.createBroker({
    persistence: persistence as never,
    maxClientsIdLength: MQTT_LIMITS.maxClientIdLength,
    maxTopicLevels: MQTT_LIMITS.maxTopicLevels,
    // Ours runs on the injected clock (below); aedes' own is the backstop.
    connectTimeout: MQTT_LIMITS.connectTimeoutMs,
    drainTimeout: 30_000,
    heartbeatInterval: 3_600_000,
  });
  const connectionOf = (client: Client | null) => client?.conn as unknown as GuardedConnection | undefined;

  broker.preConnect = (client, packet, callback) => {
    const conn = connectionOf(client);
    if (conn) conn.clientId = packet.clientId;
    // AWS refuses a CONNECT whose will the policy would not let the client publish.
    const will = packet.will;
    const decision = will ? decidePublish(packet.clientId, will.topic, Boolean(will.retain)) : undefined;
    if (decision && !decision.allowed) {
      refusals.record({ kind: decision.kind, clientId: packet.clientId, detail: `will: ${decision.detail}` });
      return callback(new Error("will not allowed"), false);
    }
    callback(null, true);
  };

  broker.authenticate = (client, _username, _password, callback) => {
    if (options.isRegisteredThing(client.id)) return callback(null, true);
    refusals.record({ kind: "unregistered client id", clientId: client.id, detail: "CreateThing first" });
    const error = Object.assign(new Error(`client id ${client.id} is not a registered thing`), { returnCode: 5 });
    callback(error as Error & { returnCode: number }, false);
  };

  broker.authorizePublish = (client, packet, callback) => {
    if (!client) return callback(null); // the broker's own messages
    const decision = decidePublish(client.id, packet.topic, packet.retain);
    if (!decision.allowed) {
      refusals.record({ kind: decision.kind, clientId: client.id, detail: decision.detail });
      // AWS IoT disconnects a client that publishes outside its policy.
      return callback(new Error(`client ${client.id} may not publish to ${packet.topic}`));
    }
    if (decision.request) {
      const payload =
        typeof packet.payload === "string" ? new TextEncoder().encode(packet.payload) : new Uint8Array(packet.payload);
      try {
        options.onRequest(packet.topic, payload, (topic, body) => {
          // Direct replies get their own broker id and counter: aedes drops, as duplicates, packets
          // whose counter is below the last one it delivered to a client, and a reply created now
          // would otherwise outrank a notification still on its way through the broker.
          const reply = {
            cmd: "publish" as const,
            topic,
            payload: Buffer.from(body),
            qos: 1 as const,
            retain: false,
            dup: false,
            brokerId: REPLY_BROKER_ID,
            brokerCounter: ++replyCounter,
          };
          client.publish(reply, () => {});
        });
      } catch (error) {
        // A bug must not take the broker down; the requester simply gets no answer.
        refusals.record({
          kind: "request failed",
          clientId: client.id,
          detail: `${packet.topic}: ${(error as Error).message}`,
        });
      }
    }
    callback(null);
  };

  broker.authorizeSubscribe = (client, subscription, callback) => {
    if (!client || !maySubscribe(client.id, subscription.topic)) {
      refusals.record({ kind: "subscribe outside own topics", clientId: client?.id, detail: subscription.topic });
      return callback(null, null); // SUBACK 0x80
    }
    const current = subscriptionsOf(client);
    if (Object.keys(current).length >= MQTT_LIMITS.maxSubscriptionsPerConnection && !(subscription.topic in current)) {
      refusals.record({ kind: "too many subscriptions", clientId: client.id, detail: subscription.topic });
      return callback(null, null);
    }
    callback(null, subscription);
  };

  const admission = new Admission<GuardedConnection>(clock);
  broker.on("client", (client) => {
    const conn = connectionOf(client);
    if (conn) admission.settle(conn);
  });

  const accept = (socket: Socket) => {
    const conn: GuardedConnection = new GuardedConnection(socket, clock, {
      refused: (kind, detail) => refusals.record({ kind, clientId: conn.clientId, detail }),
      admitConnect: (bytes) => admission.reserveConnect(conn, bytes),
    });
    if (!admission.admit(conn)) return;
    conn.once("close", () => admission.settle(conn));
    broker.handle(conn as never);
  };

  const server: Server = createServer(accept);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;

  return {
    url: `mqtt://${host}:${port}`,
    publish(topic, payload) {
      broker.publish(
        { cmd: "publish", topic, payload: Buffer.from(payload), qos: 1, retain: false, dup: false },
        () => {},
      );
    },
    // aedes' table of connected clients by id (documented in its Aedes.md, missing from its types).
    isConnected: (clientId) => Object.hasOwn((broker as unknown as { clients: object }).clients, clientId),
    connectedCount: () => broker.connectedClients,
    async close() {
      for (const conn of admission.connections()) admission.settle(conn), conn.destroy();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
      refusals.close();
    },
  };
}
