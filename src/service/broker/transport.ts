/**
 * What the service needs from a broker, whichever it is: requests in (with a way to answer the
 * requester), and pushes out to a thing's subscribers.
 */

/** A request published under `$aws/things/<thing>/...`; `reply` answers the requester. */
export type RequestHandler = (topic: string, payload: Uint8Array, reply: (topic: string, payload: string) => void) => void;

export interface Transport {
  /** `mqtt://host:port` clients connect to. */
  readonly url: string;
  /** Publishes to every subscriber of `topic` (notify, notify-next, shadow delta/documents). */
  publish(topic: string, payload: string): void;
  close(): Promise<void>;
}

/** `$aws/things/<thing>/jobs/...` and `$aws/things/<thing>/shadow/...` request topics. */
export function isServiceRequestTopic(topic: string): boolean {
  const parts = topic.split("/");
  if (parts[0] !== "$aws" || parts[1] !== "things" || parts.length < 4) return false;
  if (parts[3] !== "jobs" && parts[3] !== "shadow") return false;
  const last = parts[parts.length - 1];
  // Replies and pushes are the service's own output, never requests.
  return !(last === "accepted" || last === "rejected" || last === "delta" || last === "documents" || last === "notify" || last === "notify-next");
}

/** The thing a `$aws/things/<thing>/...` topic belongs to. */
export function thingOfTopic(topic: string): string | undefined {
  const parts = topic.split("/");
  return parts[0] === "$aws" && parts[1] === "things" && parts[2] ? parts[2] : undefined;
}
