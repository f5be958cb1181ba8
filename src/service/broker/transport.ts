/**
 * What the service needs from a broker, whichever it is: requests in (with a way to answer the
 * requester), and pushes out to a thing's subscribers.
 */

/** A request published under `$aws/things/<thing>/...`; `reply` answers the requester. */
export type RequestHandler = (
  topic: string,
  payload: Uint8Array,
  reply: (topic: string, payload: string) => void,
) => void;

export interface Transport {
  /** `mqtt://host:port` clients connect to. */
  readonly url: string;
  /** Publishes to every subscriber of `topic` (notify, notify-next, shadow delta/documents). */
  publish(topic: string, payload: string): void;
  close(): Promise<void>;
}

/** The service's own output under a thing's Jobs and shadow topics: replies and pushes. AWS IoT
 * makes these subscribe-only; a client publishing to one is refused (embedded broker). */
const SERVICE_OUTPUT = new Set(["accepted", "rejected", "delta", "documents", "notify", "notify-next"]);

const jobsOrShadow = (parts: string[]) =>
  parts[0] === "$aws" && parts[1] === "things" && parts.length >= 4 && (parts[3] === "jobs" || parts[3] === "shadow");

/** `$aws/things/<thing>/jobs/...` and `$aws/things/<thing>/shadow/...` request topics. */
export function isServiceRequestTopic(topic: string): boolean {
  const parts = topic.split("/");
  return jobsOrShadow(parts) && !SERVICE_OUTPUT.has(parts[parts.length - 1]!);
}

/** `…/jobs/notify`, `…/notify-next`, `…/accepted`, `…/rejected`, shadow `…/delta`, `…/documents`. */
export function isSubscribeOnlyTopic(topic: string): boolean {
  const parts = topic.split("/");
  return jobsOrShadow(parts) && SERVICE_OUTPUT.has(parts[parts.length - 1]!);
}

/** The thing a `$aws/things/<thing>/...` topic belongs to. */
export function thingOfTopic(topic: string): string | undefined {
  const parts = topic.split("/");
  return parts[0] === "$aws" && parts[1] === "things" && parts[2] ? parts[2] : undefined;
}
