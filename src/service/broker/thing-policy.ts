/**
 * The embedded broker's topic policy, the one AWS IoT applies with a policy bound to the thing:
 * a client (client id = thing name) publishes and subscribes only under `$aws/things/<its id>/`;
 * the service's own replies and pushes there are subscribe-only; nothing is retained on `$aws/…`
 * (AWS keeps no retained messages on reserved topics). Pure.
 */
import { MQTT_LIMITS } from "../limits.ts";
import type { RefusalKind } from "./refusal-log.ts";
import { isServiceRequestTopic, isSubscribeOnlyTopic, thingTopicPrefix } from "../../protocol/topics.ts";

export type PublishDecision =
  | { readonly allowed: true; readonly request: boolean }
  | { readonly allowed: false; readonly kind: RefusalKind; readonly detail: string };

const ownPrefix = (clientId: string) => thingTopicPrefix(clientId);

export function decidePublish(clientId: string, topic: string, retain: boolean): PublishDecision {
  if (!topic.startsWith(ownPrefix(clientId)))
    return { allowed: false, kind: "publish outside own topics", detail: topic };
  if (isSubscribeOnlyTopic(topic)) return { allowed: false, kind: "publish to a subscribe-only topic", detail: topic };
  if (retain && !MQTT_LIMITS.retainAllowed) return { allowed: false, kind: "retained publish", detail: topic };
  return { allowed: true, request: isServiceRequestTopic(topic) };
}

export function maySubscribe(clientId: string, filter: string): boolean {
  return filter.startsWith(ownPrefix(clientId));
}
