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
  /** Whether a client with this id is connected now; undefined: this broker cannot tell. */
  isConnected?(clientId: string): boolean;
  /** How many clients are connected (the console refreshes connection states when it changes). */
  connectedCount?(): number;
  close(): Promise<void>;
}
