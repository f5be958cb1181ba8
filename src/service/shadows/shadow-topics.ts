/**
 * The shadow MQTT API: `$aws/things/<thing>/shadow[/name/<shadow>]/(get|update|delete)` in,
 * accepted / rejected / delta / documents out — published to subscribers, as AWS IoT does for
 * shadows (unlike the Jobs replies).
 */
import { MAX_JSON_DEPTH, nestsDeeperThan } from "../../protocol/json-depth.ts";
import { parseShadowTopic, replyTopic, shadowTopic } from "../../protocol/topics.ts";
import { httpError, type ServiceError } from "../errors.ts";
import type { ShadowService } from "./shadows.ts";

export interface Publish {
  readonly topic: string;
  readonly payload: Record<string, unknown>;
}

export function handleShadowRequest(
  shadows: ShadowService,
  topic: string,
  payload: Uint8Array,
  now: () => number,
): Publish[] {
  const parsed = parseShadowTopic(topic);
  if (!parsed) return [];
  const timestamp = Math.floor(now() / 1000);
  let body: unknown = {};
  let clientToken: string | undefined;
  const rejected = (code: number, message: string): Publish[] => [
    {
      topic: replyTopic(topic, "rejected"),
      payload: { code, message, timestamp, ...(clientToken !== undefined ? { clientToken } : {}) },
    },
  ];
  // The shadow service's rejected codes are its HTTP statuses.
  const refused = (error: ServiceError) => rejected(httpError(error).status, error.message);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(payload);
  } catch {
    return rejected(415, "Unsupported documented encoding; supported encoding is UTF-8");
  }
  if (nestsDeeperThan(text)) return rejected(400, `The payload nests deeper than ${MAX_JSON_DEPTH} levels`);
  if (text.trim() !== "") {
    try {
      body = JSON.parse(text);
    } catch {
      return rejected(400, "Invalid JSON");
    }
  }
  if (body && typeof body === "object" && typeof (body as { clientToken?: unknown }).clientToken === "string")
    clientToken = (body as { clientToken: string }).clientToken;

  if (parsed.op === "get") {
    const r = shadows.get(parsed.thing, parsed.shadowName, clientToken);
    return r.ok ? [{ topic: replyTopic(topic, "accepted"), payload: r.value }] : refused(r.error);
  }
  if (parsed.op === "delete") {
    const r = shadows.delete(parsed.thing, parsed.shadowName, clientToken);
    return r.ok ? [{ topic: replyTopic(topic, "accepted"), payload: r.value }] : refused(r.error);
  }
  let r: ReturnType<ShadowService["update"]>;
  try {
    r = shadows.update(parsed.thing, parsed.shadowName, body, payload.length);
  } catch (error) {
    // A store that refuses the write (a full disk): the device hears it, as on the Jobs topics.
    return rejected(500, `The update could not be saved: ${(error as Error).message}`.slice(0, 300));
  }
  if (!r.ok) return refused(r.error);
  const { thing, shadowName } = parsed;
  const out: Publish[] = [{ topic: replyTopic(topic, "accepted"), payload: r.value.accepted }];
  if (r.value.delta) out.push({ topic: shadowTopic(thing, shadowName, "update", "delta"), payload: r.value.delta });
  out.push({ topic: shadowTopic(thing, shadowName, "update", "documents"), payload: r.value.documents });
  return out;
}
