/**
 * Topics of the AWS IoT Jobs device MQTT API, `$aws/things/<thing>/jobs/...` [JOBS-API-topics].
 * Shared by the agent and the local Jobs service.
 */

/** `[a-zA-Z0-9:_-]+`, 1–128 characters. */
export const THING_NAME_PATTERN = /^[a-zA-Z0-9:_-]{1,128}$/;
/** `[a-zA-Z0-9_-]+`, 1–64 characters. */
export const JOB_ID_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

export function jobsPrefix(thing: string): string {
  return `$aws/things/${thing}/jobs`;
}

/** The topics the agent publishes to and subscribes to. */
export function agentTopics(thing: string) {
  const p = jobsPrefix(thing);
  return {
    startNext: `${p}/start-next`,
    startNextAccepted: `${p}/start-next/accepted`,
    startNextRejected: `${p}/start-next/rejected`,
    notifyNext: `${p}/notify-next`,
    updateAcceptedFilter: `${p}/+/update/accepted`,
    updateRejectedFilter: `${p}/+/update/rejected`,
    update: (jobId: string) => `${p}/${jobId}/update`,
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

export type Reply = "accepted" | "rejected";

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
    const idOk = JOB_ID_PATTERN.test(a) || (b === "get" && a === "$next");
    const r = reply(c);
    if (!idOk || r === null) return undefined;
    const kind = b === "get" ? "describe" : "update";
    return { thing, topic: r ? { kind, jobId: a, reply: r } : { kind, jobId: a } };
  }
  return undefined;
}
