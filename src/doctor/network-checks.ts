/**
 * `doctor`'s checks of the way to the broker, each stage on its own so the first broken one is
 * named: DNS, TCP, the TLS handshake (server chain, client certificate, the ALPN protocol the server
 * selected on 443), the MQTT CONNECT with the device's identity, each Jobs subscription the agent makes, and one harmless
 * request (GetPendingJobExecutions) answered by the service. Through an HTTP proxy (http-proxy.conf)
 * the proxy resolves and reaches the broker: the stages are the proxy's TCP port, its answer to
 * CONNECT (authentication, policy), then MQTT (TLS included) through the tunnel.
 *
 * The MQTT check connects as the thing (client id = thing name, the same subscriptions as the
 * agent): a broker that enforces unique client ids disconnects a running agent once, and the agent
 * reconnects on its own. With a clean session: a persistent one would take the agent's session —
 * a queued notify-next would be delivered to doctor and acknowledged, and the agent, finding its
 * session present, would not ask for the job again. A clean session ends the stored one instead,
 * so the agent reconnects without a session and subscribes and asks start-next, as after any loss.
 */
import { readFileSync } from "node:fs";
import type { ConnectionSettings } from "../config/connection-settings.ts";
import { agentSubscriptions, jobsTopics, replyTopic } from "../protocol/topics.ts";
import { describeProxy } from "../config/http-proxy-config.ts";
import { alpnWireFormat, MqttClient } from "../mqtt/client.ts";
import { platform } from "../platform/current.ts";
import { nodeDns } from "../util/lazy-node.ts";
import { type CheckLine, fail, ok, skip, warn } from "./report.ts";

const STAGE_TIMEOUT_MS = 5000;

export async function networkChecks(settings: ConnectionSettings): Promise<CheckLine[]> {
  const { host, port, protocol } = settings.endpoint;
  const lines: CheckLine[] = [];
  if (settings.proxy) {
    const tunnel = await proxyCheck(settings);
    if (tunnel.verdict === "fail") return [tunnel, skip("mqtt-connect", "needs the proxy's tunnel")];
    return [tunnel, ...(await mqttChecks(settings))];
  }
  const dns = await dnsCheck(host);
  lines.push(dns);
  if (dns.verdict === "fail") return [...lines, skip("tcp", "needs DNS"), skip("mqtt-connect", "needs DNS")];
  const tcp = await tcpCheck(host, port);
  lines.push(tcp);
  if (tcp.verdict === "fail") return [...lines, skip("mqtt-connect", "needs a TCP connection")];
  if (protocol === "mqtts") {
    const tls = await tlsCheck(settings);
    lines.push(tls);
    if (tls.verdict === "fail") return [...lines, skip("mqtt-connect", "needs a TLS connection")];
  } else {
    lines.push(skip("tls", `plain mqtt:// to ${host}:${port} (no TLS)`));
  }
  lines.push(...(await mqttChecks(settings)));
  return lines;
}

async function dnsCheck(host: string): Promise<CheckLine> {
  try {
    const found = await withTimeout(nodeDns().promises.lookup(host, { all: true }), "DNS lookup timed out");
    return ok("dns", `${host} → ${found.map((a) => a.address).join(", ")}`);
  } catch (error) {
    return fail(
      "dns",
      `${host} does not resolve: ${(error as Error).message}`,
      "check the endpoint's spelling (aws iot describe-endpoint --endpoint-type iot:Data-ATS) and /etc/resolv.conf",
    );
  }
}

function tcpCheck(host: string, port: number): Promise<CheckLine> {
  return new Promise((resolve) => {
    const done = (line: CheckLine) => {
      clearTimeout(timer);
      resolve(line);
    };
    const timer = setTimeout(
      () =>
        done(
          fail(
            "tcp",
            `cannot connect to ${host}:${port}: no answer within ${STAGE_TIMEOUT_MS / 1000} s`,
            tcpHint(port),
          ),
        ),
      STAGE_TIMEOUT_MS,
    );
    platform.connect(
      { hostname: host, port },
      {
        open: (socket) => (socket.end(), done(ok("tcp", `${host}:${port} accepts connections`))),
        data() {},
        drain() {},
        close() {},
        error() {},
        connectError: (message) => done(fail("tcp", `cannot connect to ${host}:${port}: ${message}`, tcpHint(port))),
      },
    );
  });
}

/** A CONNECT tunnel to the broker through the configured proxy (closed at once). */
function proxyCheck(settings: ConnectionSettings): Promise<CheckLine> {
  const proxy = settings.proxy!;
  const { host, port } = settings.endpoint;
  return new Promise((resolve) => {
    const done = (line: CheckLine) => {
      clearTimeout(timer);
      resolve(line);
    };
    const timer = setTimeout(
      () => done(fail("http-proxy", `no tunnel through ${describeProxy(proxy)} within ${STAGE_TIMEOUT_MS / 1000} s`)),
      STAGE_TIMEOUT_MS,
    );
    platform.connect(
      { hostname: host, port, proxy },
      {
        open: (socket) => {
          socket.end();
          done(ok("http-proxy", `${describeProxy(proxy)} tunnels to ${host}:${port} (${proxy.source})`));
        },
        data() {},
        drain() {},
        close() {},
        error() {},
        connectError: (message) =>
          done(
            fail(
              "http-proxy",
              message,
              `check ${proxy.source}: host, port, credentials, and that the proxy allows CONNECT to port ${port}`,
            ),
          ),
      },
    );
  });
}

const tcpHint = (port: number) => `check that the broker runs and that a firewall lets port ${port} out`;

export function tlsCheck(settings: ConnectionSettings): Promise<CheckLine> {
  const { host, port, alpn } = settings.endpoint;
  return new Promise((resolve) => {
    const done = (line: CheckLine) => {
      clearTimeout(timer);
      resolve(line);
    };
    const timer = setTimeout(
      () => done(fail("tls", `no TLS handshake with ${host}:${port} within ${STAGE_TIMEOUT_MS / 1000} s`)),
      STAGE_TIMEOUT_MS,
    );
    const caHint = settings.rootCa
      ? `check that ${settings.rootCa} is the CA of this endpoint (AmazonRootCA1.pem for AWS IoT)`
      : "set root-ca to the broker's CA";
    platform.connect(
      {
        hostname: host,
        port,
        tls: {
          cert: settings.cert ? readFileSync(settings.cert) : undefined,
          key: settings.key ? readFileSync(settings.key) : undefined,
          ca: settings.rootCa ? readFileSync(settings.rootCa) : undefined,
          serverName: host,
          ...(alpn ? { ALPNProtocols: alpnWireFormat(alpn) } : {}),
        },
      },
      {
        open: (socket) => {
          const selected = socket.alpnProtocol;
          socket.end();
          done(alpnVerdict(`${host}:${port}`, alpn, selected || undefined));
        },
        data() {},
        drain() {},
        close() {},
        error: (_socket, message) => done(fail("tls", `TLS with ${host}:${port} failed: ${message}`)),
        connectError: (message) =>
          done(
            message.includes("closed before")
              ? fail(
                  "tls",
                  `${host}:${port} closed the connection during the TLS handshake`,
                  "the broker may have refused the client certificate: is it registered and ACTIVE?",
                )
              : fail(
                  "tls",
                  `TLS handshake with ${host}:${port} failed: ${message.replace(/^TLS handshake failed: /, "")}`,
                  caHint,
                ),
          ),
      },
    );
  });
}

/**
 * AWS IoT on 443 serves MQTT only to a client that negotiates ALPN x-amzn-mqtt-ca; a handshake that
 * completes without it reached something else (a TLS-intercepting proxy or firewall, an HTTPS
 * endpoint). Without an offer (8883, mqtts://) there is nothing to check.
 */
export function alpnVerdict(where: string, offered: string | undefined, selected: string | undefined): CheckLine {
  if (offered === undefined) return ok("tls", `handshake with ${where}, server certificate trusted`);
  if (selected === offered)
    return ok("tls", `handshake with ${where} (ALPN ${offered} negotiated), server certificate trusted`);
  return fail(
    "tls",
    `handshake with ${where} completed, but the server selected ${
      selected === undefined ? "no ALPN protocol" : `ALPN ${selected}`
    } (offered ${offered})`,
    `AWS IoT on port 443 needs ALPN ${offered}: check that the endpoint is this account's data endpoint ` +
      "(aws iot describe-endpoint --endpoint-type iot:Data-ATS); otherwise a TLS-intercepting proxy or firewall " +
      "answers in its place: have it pass the endpoint through untouched, or use port 8883",
  );
}

async function mqttChecks(settings: ConnectionSettings): Promise<CheckLine[]> {
  const { host, port, alpn, protocol } = settings.endpoint;
  const thing = settings.thingName;
  const lines: CheckLine[] = [];
  let connected!: () => void;
  let refused!: (reason: string) => void;
  const connectedOnce = new Promise<void>((resolve, reject) => {
    connected = resolve;
    refused = (reason) => reject(new Error(reason));
  });
  const replies = new Map<string, (payload: Uint8Array) => void>();
  const client = new MqttClient(
    {
      host,
      port,
      tls:
        protocol === "mqtts"
          ? {
              cert: settings.cert ? readFileSync(settings.cert) : undefined,
              key: settings.key ? readFileSync(settings.key) : undefined,
              ca: settings.rootCa ? readFileSync(settings.rootCa) : undefined,
              serverName: host,
              alpn,
            }
          : undefined,
      clientId: thing,
      cleanSession: true,
      keepaliveSeconds: 30,
      connectTimeoutMs: STAGE_TIMEOUT_MS,
      reconnectDelayMs: () => 3_600_000,
      ...(settings.proxy ? { proxy: settings.proxy } : {}),
    },
    {
      connect: () => connected(),
      error: (reason) => refused(reason),
      offline: (reason) => refused(reason ?? "the broker closed the connection"),
      message: (topic, payload) => replies.get(topic)?.(payload),
    },
  );
  try {
    await withTimeout(connectedOnce, `no CONNACK within ${STAGE_TIMEOUT_MS / 1000} s`);
    lines.push(
      ok(
        "mqtt-connect",
        `connected as client id ${thing} (a client already connected with this id, such as the running agent ` +
          "or Device Client, is disconnected once and reconnects)",
      ),
    );
  } catch (error) {
    client.close(false);
    return [
      fail(
        "mqtt-connect",
        `${(error as Error).message}`,
        "the policy must allow iot:Connect on client/<thing name>, and the certificate must be ACTIVE and attached to the thing",
      ),
    ];
  }
  try {
    const topics = agentSubscriptions(thing);
    const granted = await withTimeout(client.subscribe(topics), "no SUBACK");
    const refusedTopics = topics.filter((_, i) => granted[i] === 0x80);
    if (refusedTopics.length) {
      lines.push(
        fail(
          "subscriptions",
          `refused: ${refusedTopics.join(", ")}`,
          "the policy must allow iot:Subscribe on topicfilter/… and iot:Receive on topic/… for each of them",
        ),
      );
      lines.push(skip("jobs-request", "needs the Jobs subscriptions"));
      return lines;
    }
    lines.push(ok("subscriptions", `all ${topics.length} Jobs subscriptions granted`));

    const get = jobsTopics(thing).get;
    await withTimeout(client.subscribe([replyTopic(get, "accepted"), replyTopic(get, "rejected")]), "no SUBACK");
    const answer = new Promise<string>((resolve) => {
      replies.set(replyTopic(get, "accepted"), () => resolve("accepted"));
      replies.set(replyTopic(get, "rejected"), (p) =>
        resolve(`rejected: ${new TextDecoder().decode(p).slice(0, 200)}`),
      );
    });
    // A policy that does not allow the publish closes the connection: no PUBACK ever comes. The
    // minimum Jobs policy does not allow it and the agent does not need it: a warning, not a failure.
    try {
      await withTimeout(client.publish(get, JSON.stringify({ clientToken: "iot-jobs-doctor" })), "no PUBACK");
    } catch {
      lines.push(
        warn(
          "jobs-request",
          "GetPendingJobExecutions was not acknowledged: the policy does not allow …/jobs/get (the minimum Jobs policy does not; the agent does not use it), so the Jobs service's answer was not checked",
        ),
      );
      return lines;
    }
    const reply = await withTimeout(answer, "no reply to GetPendingJobExecutions");
    if (reply === "accepted") lines.push(ok("jobs-request", "GetPendingJobExecutions answered"));
    else lines.push(fail("jobs-request", `GetPendingJobExecutions ${reply}`));
  } catch (error) {
    lines.push(
      fail(
        "jobs-request",
        (error as Error).message,
        "the policy must allow iot:Publish on topic/$aws/things/<thing>/jobs/* (is this broker an AWS IoT Jobs endpoint?)",
      ),
    );
  } finally {
    client.close(true);
  }
  return lines;
}

function withTimeout<T>(promise: Promise<T>, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), STAGE_TIMEOUT_MS);
    }),
  ]);
}
