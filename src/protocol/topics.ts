/**
 * MQTT topics of AWS IoT under `$aws/things/<thing>/`: the Jobs device API [JOBS-API-topics]
 * and the Device Shadow API. Builders and strict parsers, shared by the agent, the local service
 * and the test peer; no other module spells a topic.
 */
import { JOB_ID_PATTERN, NEXT_JOB_ID, THING_NAME_PATTERN } from "./ids.ts";

export type Reply = "accepted" | "rejected";

/** `$aws/things/<thing>/`: everything a thing may publish and subscribe to lies below it. */
export function thingTopicPrefix(thing: string): string {
  return `$aws/things/${thing}/`;
}

/** The thing a `$aws/things/<thing>/...` topic belongs to. */
export function thingOfTopic(topic: string): string | undefined {
  const parts = topic.split("/");
  return parts[0] === "$aws" && parts[1] === "things" && parts[2] ? parts[2] : undefined;
}

/** The API a `$aws/things/<thing>/<api>/...` topic belongs to. */
export function apiOfTopic(topic: string): "jobs" | "shadow" | undefined {
  const parts = topic.split("/");
  if (parts[0] !== "$aws" || parts[1] !== "things" || !parts[2] || parts.length < 4) return undefined;
  return parts[3] === "jobs" || parts[3] === "shadow" ? parts[3] : undefined;
}

/** What the service subscribes to on a broker it joins: every thing's Jobs and shadow topics. */
export const SERVICE_REQUEST_FILTERS: readonly string[] = ["$aws/things/+/jobs/#", "$aws/things/+/shadow/#"];

/** The reply topic of a request topic. */
export const replyTopic = (requestTopic: string, reply: Reply): string => `${requestTopic}/${reply}`;

/**
 * A request to the service (`$aws/things/<thing>/jobs/...` or `.../shadow/...`), not one of its
 * replies or pushes (which a broker the service joins hands back to it too).
 */
export function isServiceRequestTopic(topic: string): boolean {
  const parts = topic.split("/");
  return isJobsOrShadow(parts) && !SERVICE_OUTPUT.has(parts[parts.length - 1]!);
}

/**
 * The service's own output under a thing's Jobs and shadow topics (replies and pushes:
 * `…/accepted`, `…/rejected`, `…/notify`, `…/notify-next`, shadow `…/delta`, `…/documents`).
 * AWS IoT makes these subscribe-only.
 */
export function isSubscribeOnlyTopic(topic: string): boolean {
  const parts = topic.split("/");
  return isJobsOrShadow(parts) && SERVICE_OUTPUT.has(parts[parts.length - 1]!);
}

const SERVICE_OUTPUT: ReadonlySet<string> = new Set([
  "accepted",
  "rejected",
  "delta",
  "documents",
  "notify",
  "notify-next",
]);

const isJobsOrShadow = (parts: readonly string[]) =>
  parts[0] === "$aws" && parts[1] === "things" && parts.length >= 4 && (parts[3] === "jobs" || parts[3] === "shadow");

// ---- Jobs -------------------------------------------------------------------------------------

export function jobsPrefix(thing: string): string {
  return `$aws/things/${thing}/jobs`;
}

/** Every Jobs topic of one thing. */
export function jobsTopics(thing: string) {
  const p = jobsPrefix(thing);
  return {
    get: `${p}/get`,
    startNext: `${p}/start-next`,
    describe: (jobId: string) => `${p}/${jobId}/get`,
    update: (jobId: string) => `${p}/${jobId}/update`,
    notify: `${p}/notify`,
    notifyNext: `${p}/notify-next`,
    /** Every reply and push of this thing (a device on a plain broker subscribes to these). */
    all: `${p}/#`,
  } as const;
}

export type JobsPush = "notify" | "notify-next";

/** `notify` / `notify-next` of a thing. */
export const jobsPushTopic = (thing: string, push: JobsPush): string => `${jobsPrefix(thing)}/${push}`;

/** The topics the agent publishes to and subscribes to. */
export function agentTopics(thing: string) {
  const t = jobsTopics(thing);
  const p = jobsPrefix(thing);
  return {
    startNext: t.startNext,
    startNextAccepted: replyTopic(t.startNext, "accepted"),
    startNextRejected: replyTopic(t.startNext, "rejected"),
    notifyNext: t.notifyNext,
    updateAcceptedFilter: `${p}/+/update/accepted`,
    updateRejectedFilter: `${p}/+/update/rejected`,
    update: t.update,
  } as const;
}

/** The subscriptions of the reference client, in its order. */
export function agentSubscriptions(thing: string): string[] {
  const t = agentTopics(thing);
  return [t.startNextAccepted, t.startNextRejected, t.notifyNext, t.updateAcceptedFilter, t.updateRejectedFilter];
}

export type JobsTopic =
  | { readonly kind: "notify" }
  | { readonly kind: "notify-next" }
  | { readonly kind: "get"; readonly reply?: Reply }
  | { readonly kind: "start-next"; readonly reply?: Reply }
  | { readonly kind: "describe"; readonly jobId: string; readonly reply?: Reply }
  | { readonly kind: "update"; readonly jobId: string; readonly reply?: Reply };

/** The four requests a device can make. */
export type JobsRequestKind = "get" | "start-next" | "describe" | "update";

export interface ParsedJobsTopic {
  readonly thing: string;
  readonly topic: JobsTopic;
}

/**
 * Parses a Jobs API topic strictly; returns undefined for anything else (a client must ignore a
 * topic for another thing or one it does not know).
 */
export function parseJobsTopic(topic: string): ParsedJobsTopic | undefined {
  const parts = topic.split("/");
  if (parts.length < 4 || parts[0] !== "$aws" || parts[1] !== "things" || parts[3] !== "jobs") return undefined;
  const thing = parts[2]!;
  if (!THING_NAME_PATTERN.test(thing)) return undefined;
  const rest = parts.slice(4);
  const reply = (s: string | undefined): Reply | undefined | null =>
    s === undefined ? undefined : s === "accepted" || s === "rejected" ? s : null;

  const [a, b, c, d] = rest;
  if (a === undefined) return undefined;
  if (rest.length === 1 && a === "notify") return { thing, topic: { kind: "notify" } };
  if (rest.length === 1 && a === "notify-next") return { thing, topic: { kind: "notify-next" } };
  if ((a === "get" || a === "start-next") && rest.length <= 2) {
    const r = reply(b);
    if (r === null) return undefined;
    return { thing, topic: r ? { kind: a, reply: r } : { kind: a } };
  }
  if ((b === "get" || b === "update") && rest.length <= 3 && d === undefined) {
    const idOk = JOB_ID_PATTERN.test(a) || (b === "get" && a === NEXT_JOB_ID);
    const r = reply(c);
    if (!idOk || r === null) return undefined;
    const kind = b === "get" ? "describe" : "update";
    return { thing, topic: r ? { kind, jobId: a, reply: r } : { kind, jobId: a } };
  }
  return undefined;
}

// ---- Device Shadow ----------------------------------------------------------------------------

export type ShadowOperation = "get" | "update" | "delete";
/** What the service publishes after an operation. */
export type ShadowPush = Reply | "delta" | "documents";

/** `$aws/things/<thing>/shadow`, or `.../shadow/name/<shadowName>` for a named shadow ("" = classic). */
export function shadowPrefix(thing: string, shadowName = ""): string {
  return `$aws/things/${thing}/shadow${shadowName ? `/name/${shadowName}` : ""}`;
}

/** A shadow request topic, or with `push` one of the topics the service answers on. */
export function shadowTopic(thing: string, shadowName: string, op: ShadowOperation, push?: ShadowPush): string {
  return `${shadowPrefix(thing, shadowName)}/${op}${push ? `/${push}` : ""}`;
}

/**
 * A shadow request topic → thing, shadow name ("" = classic) and operation. The shadow name is not
 * checked here: the service answers a bad one with a rejection, as AWS does.
 */
export function parseShadowTopic(
  topic: string,
): { thing: string; shadowName: string; op: ShadowOperation } | undefined {
  const parts = topic.split("/");
  if (parts[0] !== "$aws" || parts[1] !== "things" || parts[3] !== "shadow") return undefined;
  const thing = parts[2]!;
  if (!THING_NAME_PATTERN.test(thing)) return undefined;
  const rest = parts.slice(4);
  const named = rest.length === 3 && rest[0] === "name" && rest[1] !== "";
  if (rest.length !== 1 && !named) return undefined;
  const op = rest[rest.length - 1];
  if (op !== "get" && op !== "update" && op !== "delete") return undefined;
  return { thing, shadowName: named ? rest[1]! : "", op };
}
