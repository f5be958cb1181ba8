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
 *
 * Beside the plain listener (the open development mode: the client id is trusted), an
 * MQTT-over-TLS listener demands what AWS IoT demands: a client certificate known to the service
 * and ACTIVE, and the IoT policies attached to it on every Connect, Publish, Subscribe and Receive
 * (iot-authorizer.ts); each denial is one log line naming the deciding statement (DenialLog).
 */
import { Aedes, type Client } from "aedes";
import { createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import { type Clock, systemClock } from "../../util/clock.ts";
import { MQTT_LIMITS } from "../limits.ts";
import { Admission } from "./admission.ts";
import { HandshakeDeadlines } from "./tls-handshakes.ts";
import { BoundedPersistence } from "./bounded-persistence.ts";
import { GuardedConnection } from "./guarded-connection.ts";
import { DenialLog, RefusalLog, type RefusalSink } from "./refusal-log.ts";
import { decidePublish, maySubscribe, type PublishDecision } from "./thing-policy.ts";
import type { IotAuthorizer, PolicySession } from "./iot-authorizer.ts";
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
  /** false: no plain listener (mutual TLS only). Default true. */
  readonly plain?: boolean;
  /** The MQTT-over-TLS listener: client certificates required, IoT policies applied. */
  readonly tls?: {
    readonly port: number;
    readonly certificatePem: string;
    readonly privateKeyPem: string;
    readonly caPem: string;
  };
  /** Certificates and policies (needed by the TLS listener and by `policyOnPlain`). */
  readonly authorizer?: IotAuthorizer;
  /** Apply IoT policies on the plain listener too (the thing's ACTIVE certificates' policies). */
  readonly policyOnPlain?: boolean;
  /** Where policy denials are logged, one line each (at most once per client, action and resource per interval). */
  readonly logDenial?: RefusalSink;
}

/** A transport with the TLS listener's address and a way to end a certificate's sessions. */
export interface EmbeddedTransport extends Transport {
  readonly mqttsUrl?: string;
  /** Closes every session of a certificate that is no longer ACTIVE; returns how many. */
  endSessionsOf(certificateId: string): number;
}

/** aedes' per-client subscription table (documented in its Client.md, missing from its types). */
const subscriptionsOf = (client: Client) =>
  (client as Client & { subscriptions: Record<string, unknown> }).subscriptions;

const REPLY_BROKER_ID = "iot-jobs-local-direct-replies";
let replyCounter = 0;

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedTransport> {
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
  /** Connections that came in over TLS: the certificate id they presented. */
  const certificateOf = new WeakMap<GuardedConnection, string>();
  /** Accepted connections under IoT policies. */
  const sessions = new WeakMap<Client, PolicySession>();
  const byCertificate = new Map<string, Set<Client>>();
  /** Plain-listener sessions under the policies of their thing's certificates (policyOnPlain). */
  const plainUnderPolicy = new Set<Client>();
  const denials = new DenialLog(clock, MQTT_LIMITS.refusalLogIntervalMs, options.logDenial ?? (() => {}));
  const deny = (
    clientId: string,
    certificateId: string | undefined,
    action: string,
    resource: string,
    reason: string,
  ) => denials.record({ clientId, ...(certificateId ? { certificateId } : {}), action, resource, reason });

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
    const conn = connectionOf(client);
    const certificateId = conn ? certificateOf.get(conn) : undefined;
    if (options.authorizer && (certificateId !== undefined || options.policyOnPlain)) {
      const decision =
        certificateId !== undefined
          ? options.authorizer.connectWithCertificate(certificateId, client.id)
          : options.authorizer.connectByClientId(client.id);
      if (!decision.allowed) {
        const resource = decision.resource ?? "(before the policy: the certificate)";
        deny(client.id, certificateId, decision.action ?? "iot:Connect", resource, decision.reason);
        const error = Object.assign(new Error(`not authorized: ${decision.reason}`), { returnCode: 5 });
        return callback(error as Error & { returnCode: number }, false);
      }
      sessions.set(client, decision.session);
      if (certificateId === undefined) {
        plainUnderPolicy.add(client);
        conn?.once("close", () => plainUnderPolicy.delete(client));
      } else {
        const set = byCertificate.get(certificateId) ?? new Set<Client>();
        byCertificate.set(certificateId, set);
        set.add(client);
        conn?.once("close", () => {
          set.delete(client);
          if (set.size === 0 && byCertificate.get(certificateId) === set) byCertificate.delete(certificateId);
        });
      }
      return callback(null, true);
    }
    if (options.isRegisteredThing(client.id)) return callback(null, true);
    refusals.record({ kind: "unregistered client id", clientId: client.id, detail: "CreateThing first" });
    const error = Object.assign(new Error(`client id ${client.id} is not a registered thing`), { returnCode: 5 });
    callback(error as Error & { returnCode: number }, false);
  };

  broker.authorizePublish = (client, packet, callback) => {
    if (!client) return callback(null); // the broker's own messages
    const session = sessions.get(client);
    const decision = session
      ? structuralPublish(packet.topic, packet.retain)
      : decidePublish(client.id, packet.topic, packet.retain);
    if (session && decision.allowed && options.authorizer) {
      const d = options.authorizer.decide(session, "iot:Publish", packet.topic);
      if (!d.allowed) {
        deny(client.id, session.certificateId, "iot:Publish", d.resource, d.reason);
        // AWS IoT disconnects a client that publishes outside its policy.
        return callback(new Error(`client ${client.id} may not publish to ${packet.topic}`));
      }
    }
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
    const session = client ? sessions.get(client) : undefined;
    if (client && session && options.authorizer) {
      const d = options.authorizer.decide(session, "iot:Subscribe", subscription.topic);
      if (!d.allowed) {
        deny(client.id, session.certificateId, "iot:Subscribe", d.resource, d.reason);
        return callback(null, null); // SUBACK 0x80
      }
    } else if (!client || !maySubscribe(client.id, subscription.topic)) {
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

  broker.authorizeForward = (client, packet) => {
    const session = sessions.get(client);
    if (!session || !options.authorizer) return packet;
    const d = options.authorizer.decide(session, "iot:Receive", packet.topic);
    if (d.allowed) return packet;
    deny(client.id, session.certificateId, "iot:Receive", d.resource, d.reason);
    return null; // not delivered, as AWS drops a message the policy does not let the client receive
  };

  const admission = new Admission<GuardedConnection>(clock);
  const handshakes = new HandshakeDeadlines(clock, (kind, detail) => refusals.record({ kind, detail }));
  broker.on("client", (client) => {
    const conn = connectionOf(client);
    if (conn) admission.settle(conn);
  });

  const accept = (socket: Socket, certificateId?: string) => {
    const conn: GuardedConnection = new GuardedConnection(socket, clock, {
      refused: (kind, detail) => refusals.record({ kind, clientId: conn.clientId, detail }),
      admitConnect: (bytes) => admission.reserveConnect(conn, bytes),
    });
    if (certificateId !== undefined) certificateOf.set(conn, certificateId);
    if (!admission.admit(conn)) return;
    conn.once("close", () => admission.settle(conn));
    broker.handle(conn as never);
  };

  const listen = async (server: Server, port: number) => {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, options.host, () => resolve());
    });
    return (server.address() as { port: number }).port;
  };
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  const servers: Server[] = [];
  let url = "";
  if (options.plain !== false) {
    const server = createServer((socket) => accept(socket));
    servers.push(server);
    url = `mqtt://${host}:${await listen(server, options.port)}`;
  }
  let mqttsUrl: string | undefined;
  if (options.tls) {
    if (!options.authorizer) throw new Error("The TLS listener needs the certificates and policies (authorizer)");
    const tlsServer = createTlsServer(
      {
        key: options.tls.privateKeyPem,
        cert: options.tls.certificatePem,
        ca: [options.tls.caPem],
        // The certificate is checked by its id (issued here or registered without a CA), not by chain alone.
        requestCert: true,
        rejectUnauthorized: false,
        ALPNProtocols: ["x-amzn-mqtt-ca", "mqtt"],
        minVersion: "TLSv1.2",
      },
      (socket: TLSSocket) => {
        handshakes.done(socket);
        const fingerprint = socket.getPeerCertificate()?.fingerprint256;
        if (!fingerprint) {
          refusals.record({ kind: "no client certificate", detail: socket.remoteAddress });
          return socket.destroy();
        }
        accept(socket, fingerprint.replaceAll(":", "").toLowerCase());
      },
    );
    // The handshake's own deadline (tls-handshakes.ts): the runtime ignores handshakeTimeout.
    tlsServer.on("connection", (raw: Socket) => handshakes.begin(raw));
    tlsServer.on("tlsClientError", (error: Error) =>
      refusals.record({ kind: "TLS handshake failed", detail: error.message }),
    );
    servers.push(tlsServer);
    mqttsUrl = `mqtts://${host}:${await listen(tlsServer, options.tls.port)}`;
  }

  return {
    url,
    ...(mqttsUrl ? { mqttsUrl } : {}),
    endSessionsOf(certificateId) {
      const clients = [...(byCertificate.get(certificateId) ?? [])];
      byCertificate.delete(certificateId);
      // A plain session stands for its thing's ACTIVE certificates: it ends once it could no
      // longer connect (its last ACTIVE certificate went INACTIVE or REVOKED).
      for (const client of plainUnderPolicy)
        if (!options.authorizer?.connectByClientId(client.id).allowed) clients.push(client);
      for (const client of clients) client.close();
      return clients.length;
    },
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
      for (const server of servers) await new Promise<void>((resolve) => server.close(() => resolve()));
      refusals.close();
      denials.close();
    },
  };
}

/**
 * Under a policy, the rules no policy can lift: the service's replies and pushes are
 * subscribe-only, and nothing is retained (AWS keeps no retained messages on reserved topics).
 */
function structuralPublish(topic: string, retain: boolean): PublishDecision {
  const owner = /^\$aws\/things\/([^/]+)\//.exec(topic)?.[1];
  if (owner !== undefined) return decidePublish(owner, topic, retain);
  if (retain && !MQTT_LIMITS.retainAllowed) return { allowed: false, kind: "retained publish", detail: topic };
  return { allowed: true, request: false };
}
