/**
 * Assembles the local Jobs service: the data-directory lock, store, fleet, shadows, package
 * catalog, jobs engine and control, the start-up checks, the MQTT side (embedded aedes or an
 * existing broker) and the HTTP control plane.
 */
import type { Logger } from "../log/logger.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { attachToBroker } from "./broker/attached-broker.ts";
import { type EmbeddedTransport, startEmbeddedBroker } from "./broker/embedded-broker.ts";
import { IotAuthorizer } from "./broker/iot-authorizer.ts";
import { Identity } from "./identity/identity.ts";
import { writeRootCa } from "./identity/root-ca-file.ts";
import type { Transport } from "./broker/transport.ts";
import { PackageCatalog } from "./catalog/packages.ts";
import { consoleApi } from "./console/console-api.ts";
import { ConsoleHttp, isConsolePath } from "./console/console-http.ts";
import { ConsoleEvents } from "./console/events.ts";
import { type DataDirLock, lockDataDir } from "./data-dir-lock.ts";
import { operations } from "./http/routes/index.ts";
import { Router } from "./http/router.ts";
import { JobsDeviceApi } from "./jobs/device-api.ts";
import { JobControl } from "./jobs/job-control.ts";
import { JobsEngine } from "./jobs/jobs-engine.ts";
import { JobTemplates } from "./jobs/job-templates.ts";
import { Fleet } from "./registry/fleet.ts";
import { ThingTypes } from "./registry/thing-types.ts";
import { handleShadowRequest } from "./shadows/shadow-topics.ts";
import { PACKAGE_SHADOW, ShadowService } from "./shadows/shadows.ts";
import { repairAtStartup, repairsFound } from "./startup-check.ts";
import { Store } from "./store.ts";
import { ObjectStore } from "./s3/objects.ts";
import { presignGet, type SigningKey } from "./s3/presign.ts";
import { renderPresigned } from "./s3/presigned-placeholders.ts";
import { isS3Request, S3Api } from "./s3/s3-api.ts";
import { S3Error } from "./s3/objects.ts";
import { s3ErrorResponse } from "./s3/s3-api.ts";
import { checkHost, signingName } from "./http/request-guard.ts";
import { advertisedHost, certificateNames, isWildcard, machineFacts } from "./advertised-host.ts";
import { randomBytes } from "node:crypto";
import { apiOfTopic, jobsPushTopic, type ShadowPush, shadowTopic } from "../protocol/topics.ts";

export interface ServiceOptions {
  /** undefined: in memory only. */
  readonly dataDir: string | undefined;
  readonly host: string;
  readonly mqttPort: number;
  readonly httpPort: number;
  /** Host names the HTTP API answers to besides IP addresses and localhost (DNS-rebinding guard). */
  readonly httpHostNames?: readonly string[];
  /** `mqtt://host:port` of an existing broker; undefined: the embedded one. */
  readonly broker?: string;
  /** Length of a timeout "minute" in ms (default 60,000; tests shorten it). */
  readonly minuteMs?: number;
  readonly log: Logger;
  /** Time and timers (default: the system clock; tests pass a ManualClock). */
  readonly clock?: Clock;
  /**
   * The brokers' connection timers (CONNECT and TLS handshake deadlines, request rates): real time
   * by default even when `clock` runs faster (--time-scale must not cut devices off in a tenth of
   * a second); tests pass their ManualClock.
   */
  readonly connectionClock?: Clock;
  /** The embedded broker's MQTT-over-TLS port (mutual TLS, IoT policies); undefined: no TLS listener. */
  readonly mqttsPort?: number;
  /** false: no plain MQTT listener (default true). */
  readonly plainMqtt?: boolean;
  /** Apply IoT policies on the plain listener too (default: the open development mode). */
  readonly policyOnPlain?: boolean;
}

export interface RunningService {
  readonly mqttUrl: string;
  readonly httpUrl: string;
  /** `mqtts://host:port` of the mutual-TLS listener, when it runs. */
  readonly mqttsUrl?: string;
  /** The file holding the local CA's certificate (a device's `root-ca`), when the TLS listener runs. */
  readonly rootCaPath?: string;
  readonly store: Store;
  stop(): Promise<void>;
}

export async function startService(options: ServiceOptions): Promise<RunningService> {
  const { log } = options;
  const clock = options.clock ?? systemClock;
  const now = () => clock.now();
  const lock: DataDirLock | undefined = options.dataDir ? lockDataDir(options.dataDir) : undefined;
  if (lock?.degraded) log.warn({ dataDir: options.dataDir }, lock.degraded);
  let store: Store;
  try {
    store = new Store(options.dataDir);
  } catch (error) {
    lock?.release();
    throw error;
  }
  let transport: Transport | undefined;
  const publish = (topic: string, payload: object) => transport?.publish(topic, JSON.stringify(payload));

  let fleet!: Fleet;
  const shadows = new ShadowService(
    store,
    (t) => fleet.hasThing(t),
    now,
    (thing) => fleet.reevaluate(thing),
  );
  fleet = new Fleet(
    store,
    (t) => shadows.statesOf(t),
    now,
    (group, problem) =>
      log.error({ thingGroupName: group, problem }, `Dynamic thing group ${group} is disabled: ${problem}`),
  );
  const catalog = new PackageCatalog(store, now);
  let jobs!: JobControl;
  const engine = new JobsEngine(store, {
    minuteMs: options.minuteMs ?? 60_000,
    clock,
    notify: (thing, push, payload) => publish(jobsPushTopic(thing, push), payload),
    onTimerError: (error) => log.warn({ err: error }, "A job execution timer could not be saved; retrying"),
    onFinished: (execution) => jobs.onFinished(execution),
    onSucceeded: (execution, job) =>
      jobs.onSucceeded(execution, job, {
        reportPackages: (thingName, versions) => {
          const reported = Object.fromEntries(
            [...versions].map(([p, v]) => [p, v === undefined ? null : { version: v }]),
          );
          const res = shadows.update(thingName, PACKAGE_SHADOW, { state: { reported } }, 0);
          if (!res.ok) {
            const fields = { thingName, code: res.error.code, message: res.error.message };
            return log.warn(fields, "Could not update $package after a SUCCEEDED execution");
          }
          store.afterCommit(() => {
            publish(shadowTopic(thingName, PACKAGE_SHADOW, "update", "accepted"), res.value.accepted);
            if (res.value.delta) publish(shadowTopic(thingName, PACKAGE_SHADOW, "update", "delta"), res.value.delta);
            publish(shadowTopic(thingName, PACKAGE_SHADOW, "update", "documents"), res.value.documents);
          });
        },
      }),
  });
  jobs = new JobControl(store, engine, fleet, catalog, now, {
    clock,
    minuteMs: options.minuteMs ?? 60_000,
    onRolloutError: (error) => log.warn({ err: error }, "A roll-out step could not be saved; retrying"),
  });
  const jobTemplates = new JobTemplates(store, now);
  jobs.useTemplates(jobTemplates);
  const identity = new Identity(store, fleet, now);
  const objects = new ObjectStore(store, options.dataDir, now);
  const s3Key = (): SigningKey => {
    let secret = store.get("secret", "s3-presign")?.value;
    if (!secret) {
      secret = randomBytes(30).toString("base64url");
      store.put("secret", "s3-presign", { value: secret });
    }
    return { accessKeyId: "IOTJOBSLOCALPRESIGN", secret };
  };
  const s3 = new S3Api(objects, s3Key, clock);
  catalog.setArtifactStore((bucket, key) => {
    try {
      objects.object(bucket, key);
      return true;
    } catch {
      return false;
    }
  });
  let httpOrigin = "";
  // Every delivery of a document with pre-signed URL placeholders gets fresh URLs (AWS does the same).
  engine.setDocumentRenderer((job) =>
    job.presignedUrlConfig && httpOrigin
      ? renderPresigned(job.document, (l) =>
          presignGet(s3Key(), httpOrigin, `/${l.bucket}/${l.key}`, clock.now(), job.presignedUrlConfig!.expiresInSec),
        )
      : job.document,
  );
  fleet.onMembershipChange((thing, joined, left) => jobs.onMembershipChange(thing, joined, left));
  fleet.onThingDeleted((thing) => jobs.onThingDeleted(thing));

  try {
    const repairs = repairAtStartup(store, fleet, engine);
    if (repairsFound(repairs)) log.warn({ repairs }, "Repaired state left inconsistent by an earlier crash");
  } catch (error) {
    store.close();
    lock?.release();
    throw error;
  }
  const deviceApi = new JobsDeviceApi(engine, clock);

  const onRequest = (topic: string, payload: Uint8Array, reply: (topic: string, payload: string) => void) => {
    const api = apiOfTopic(topic);
    // Anything under `…/jobs/` goes to the Jobs API, which answers what it cannot parse with InvalidTopic.
    if (api === "jobs") {
      for (const r of deviceApi.handle(topic, payload)) reply(r.topic, JSON.stringify(r.payload));
    } else if (api === "shadow") {
      // Shadow replies go to subscribers, not only to the requester.
      for (const p of handleShadowRequest(shadows, topic, payload, now)) publish(p.topic, p.payload);
    }
  };
  let rootCa: { path: string; remove(): void } | undefined;
  let embedded: EmbeddedTransport | undefined;
  const facts = machineFacts();
  // What URLs and DescribeEndpoint name: not 0.0.0.0 when bound to every address (advertised-host.ts).
  const host = advertisedHost(options.host, options.httpHostNames ?? [], facts);
  // The Host names HTTP answers to besides IPs and localhost: --http-host-name, and when bound to
  // every address the machine's own name (its TLS certificate names it too).
  const hostNames = [...(options.httpHostNames ?? []), ...(isWildcard(options.host) ? [facts.hostname] : [])];
  const advertise = (url: string | undefined) => url?.replace(/^(\w+:\/\/)[^/]*:(\d+)$/, `$1${host}:$2`);
  try {
    const tls =
      options.mqttsPort !== undefined && !options.broker
        ? {
            port: options.mqttsPort,
            caPem: (await identity.ca()).certificatePem,
            ...(await identity.serverCertificate(certificateNames(options.host, options.httpHostNames ?? [], facts))),
          }
        : undefined;
    if (tls) rootCa = writeRootCa(options.dataDir, tls.caPem);
    transport = options.broker
      ? await attachToBroker(
          options.broker,
          onRequest,
          (message) => log.warn({ message }, "Broker connection problem"),
          {
            logRefusal: (fields, message) => log.warn(fields, message),
            clock: options.connectionClock ?? systemClock,
          },
        )
      : await startEmbeddedBroker({
          host: options.host,
          port: options.mqttPort,
          onRequest,
          isRegisteredThing: (id) => fleet.hasThing(id),
          logRefusal: (fields, message) => log.warn(fields, message),
          logDenial: (fields, message) => log.warn(fields, message),
          plain: options.plainMqtt,
          tls,
          authorizer: new IotAuthorizer(identity, fleet),
          policyOnPlain: options.policyOnPlain,
          clock: options.connectionClock ?? systemClock,
        });
    if (!options.broker) embedded = transport as EmbeddedTransport;
  } catch (error) {
    rootCa?.remove();
    store.close();
    lock?.release();
    throw error;
  }

  const router = new Router(
    operations({
      fleet,
      thingTypes: new ThingTypes(store, now),
      jobs,
      jobTemplates,
      engine,
      catalog,
      shadows,
      publishShadow: (thing, shadowName, op, messages) => {
        for (const m of messages) publish(shadowTopic(thing, shadowName, op, m.suffix as ShadowPush), m.payload);
      },
      now,
      identity,
      endpoints: (type) => endpointOf(type),
    }),
    { hostNames },
  );
  // The console (/console): its page, read-only views and live events; writes go through `router`.
  const consoleEvents = new ConsoleEvents({ clock, connectedCount: transport.connectedCount?.bind(transport) });
  store.onCommit(consoleEvents.changed);
  const consoleHttp = new ConsoleHttp(
    consoleApi({ fleet, jobs, engine, catalog, shadows, isConnected: transport.isConnected?.bind(transport), now }),
    consoleEvents,
    hostNames,
  );
  const server = Bun.serve({
    hostname: options.host,
    port: options.httpPort,
    fetch: (request) => {
      // A request whose URL cannot be parsed (a malformed Host) is the router's to refuse.
      const url = URL.parse(request.url);
      if (!url) return router.handle(request);
      // S3 is told by its signature (a bucket may be called "console"); the console is unsigned.
      if (!isS3Request(signingName(request.headers, url.searchParams), url.searchParams))
        return isConsolePath(url.pathname) ? consoleHttp.handle(request, url) : router.handle(request);
      try {
        checkHost(request.headers.get("host"), hostNames);
      } catch (error) {
        return s3ErrorResponse(new S3Error(400, "InvalidRequest", (error as Error).message), url.pathname);
      }
      return s3.handle(request);
    },
  });
  engine.start();
  jobs.start();
  httpOrigin = `http://${host}:${server.port}`;
  const hostPort = (url: string | undefined) => url?.replace(/^\w+:\/\//, "");
  const endpointOf = (type: string): string | undefined =>
    type === "iot:Data-ATS" || type === "iot:Data"
      ? hostPort(embedded ? advertise(embedded.mqttsUrl ?? embedded.url) : transport?.url)
      : type === "iot:Jobs"
        ? `${host}:${server.port}`
        : undefined;
  identity.onStatusChange((certificateId, status) => {
    if (status === "ACTIVE") return;
    const ended = embedded?.endSessionsOf(certificateId) ?? 0;
    if (ended > 0)
      log.warn({ certificateId, status, sessions: ended }, `Certificate is now ${status}: its sessions end`);
  });

  return {
    mqttUrl: embedded ? advertise(transport.url)! : transport.url,
    httpUrl: `http://${host}:${server.port}`,
    ...(embedded?.mqttsUrl ? { mqttsUrl: advertise(embedded.mqttsUrl)! } : {}),
    ...(rootCa ? { rootCaPath: rootCa.path } : {}),
    store,
    async stop() {
      engine.stop();
      jobs.stop();
      consoleEvents.stop();
      await server.stop(true);
      await transport?.close();
      store.close();
      objects.close();
      rootCa?.remove();
      lock?.release();
    },
  };
}
