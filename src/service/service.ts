/**
 * Assembles the local Jobs service: the data-directory lock, store, fleet, shadows, package
 * catalog, jobs engine and control, the start-up checks, the MQTT side (embedded aedes or an
 * existing broker) and the HTTP control plane.
 */
import type { Logger } from "../log/logger.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { attachToBroker } from "./broker/attached-broker.ts";
import { startEmbeddedBroker } from "./broker/embedded-broker.ts";
import type { Transport } from "./broker/transport.ts";
import { PackageCatalog } from "./catalog/packages.ts";
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
}

export interface RunningService {
  readonly mqttUrl: string;
  readonly httpUrl: string;
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
  try {
    transport = options.broker
      ? await attachToBroker(
          options.broker,
          onRequest,
          (message) => log.warn({ message }, "Broker connection problem"),
          {
            logRefusal: (fields, message) => log.warn(fields, message),
          },
        )
      : await startEmbeddedBroker({
          host: options.host,
          port: options.mqttPort,
          onRequest,
          isRegisteredThing: (id) => fleet.hasThing(id),
          logRefusal: (fields, message) => log.warn(fields, message),
        });
  } catch (error) {
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
    }),
    { hostNames: options.httpHostNames },
  );
  const server = Bun.serve({
    hostname: options.host,
    port: options.httpPort,
    fetch: (request) => router.handle(request),
  });
  engine.start();
  jobs.start();
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;

  return {
    mqttUrl: transport.url,
    httpUrl: `http://${host}:${server.port}`,
    store,
    async stop() {
      engine.stop();
      jobs.stop();
      await server.stop(true);
      await transport?.close();
      store.close();
      lock?.release();
    },
  };
}
