/**
 * aedes' in-memory persistence with a bound on each persistent session's queue of QoS 1
 * messages (MQTT_LIMITS.maxQueuedPerSession). Without it a session that subscribed and went
 * away collected every message for it (20,000 shadow documents, +160 MB, all delivered on
 * reconnect). Beyond the bound new messages are dropped for that session and reported; an
 * online session that reaches it is not acknowledging, and aedes disconnects it when the
 * delivery finds no queued packet.
 *
 * Counting: +1 per enqueue, −1 per acknowledged (cleared) message; when the count reaches the
 * bound it is re-counted from the queue itself (at most the bound, so cheap), so a path that
 * empties the queue another way can only make the bound act later, never lose messages early.
 */
// The in-memory implementation itself; its types ship under types/ without a module mapping.
// @ts-expect-error TS7016
import MemoryPersistenceImpl from "aedes-persistence/asyncPersistence.js";
import type MemoryPersistenceClass from "aedes-persistence/types/asyncPersistence.d.ts";
import { MQTT_LIMITS } from "../limits.ts";

const MemoryPersistence = MemoryPersistenceImpl as typeof MemoryPersistenceClass;
type MemoryPersistence = MemoryPersistenceClass;
type Packet = Parameters<MemoryPersistence["outgoingEnqueue"]>[1];
type Sub = Parameters<MemoryPersistence["outgoingEnqueue"]>[0];
type ClientRef = Parameters<MemoryPersistence["outgoingClearMessageId"]>[0];

const topicOf = (packet: Packet) => String((packet as { topic?: unknown }).topic ?? "");

export class BoundedPersistence extends MemoryPersistence {
  private readonly queued = new Map<string, number>();

  constructor(private readonly onDropped: (clientId: string, topic: string) => void) {
    super();
  }

  override async outgoingEnqueue(sub: Sub, packet: Packet): Promise<void> {
    if (await this.hasRoom(sub.clientId)) return super.outgoingEnqueue(sub, packet);
    this.onDropped(sub.clientId, topicOf(packet));
  }

  override async outgoingEnqueueCombi(subs: Sub[], packet: Packet): Promise<void> {
    const admitted: Sub[] = [];
    for (const sub of subs) {
      if (await this.hasRoom(sub.clientId)) admitted.push(sub);
      else this.onDropped(sub.clientId, topicOf(packet));
    }
    if (admitted.length) await super.outgoingEnqueueCombi(admitted, packet);
  }

  override async outgoingClearMessageId(client: ClientRef, packet: Packet): Promise<Packet> {
    // Resolves to undefined when no queued packet has this id (the types say otherwise).
    const cleared: Packet | undefined = await super.outgoingClearMessageId(client, packet);
    if (cleared) this.queued.set(client.id, Math.max(0, (this.queued.get(client.id) ?? 1) - 1));
    return cleared as Packet;
  }

  /** Reserves a place in the client's queue if there is one. */
  private async hasRoom(clientId: string): Promise<boolean> {
    let count = this.queued.get(clientId) ?? 0;
    if (count >= MQTT_LIMITS.maxQueuedPerSession) {
      count = 0;
      for await (const _ of this.outgoingStream({ id: clientId } as ClientRef)) count++;
    }
    if (count >= MQTT_LIMITS.maxQueuedPerSession) {
      this.queued.set(clientId, count);
      return false;
    }
    this.queued.set(clientId, count + 1);
    return true;
  }
}
