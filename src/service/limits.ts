/**
 * Every limit of the local service, in one place (docs/LOCAL-SERVICE.md, "Limits", lists them
 * with AWS's figures). Each says where its number comes from: AWS's documented quota where there
 * is one, otherwise our choice and why. Code reads the limits from here and nowhere else, so a
 * test can name the limit it proves instead of repeating a number.
 */

/** Fleet-indexing queries (SearchIndex, CreateDynamicThingGroup). */
export const QUERY_LIMITS = {
  /** AWS (query syntax notes): "The maximum number of terms in a query is twelve." */
  maxTerms: 12,
  /** AWS: a leading wildcard (`*abc`) is allowed in one term per query… */
  maxLeadingWildcardTerms: 1,
  /** …and such a query is at most 100 characters. */
  maxLengthWithLeadingWildcard: 100,
  /** AWS documents no overall maximum (botocore: min 1). Ours: 12 terms of long attribute
   * values fit; a bound keeps tokenising and storing a query cheap. */
  maxLength: 4096,
  /** AWS documents none. Ours: `NOT` and parentheses nest at most this deep, so parsing and
   * evaluation never recurse without bound (a 25,000-deep query overflowed the stack). */
  maxNesting: 16,
} as const;

/** The embedded MQTT broker. */
export const MQTT_LIMITS = {
  /** AWS IoT Core: message payload ≤ 128 KB. */
  maxPayloadBytes: 128 * 1024,
  /** AWS IoT Core: topic ≤ 256 bytes of UTF-8. */
  maxTopicBytes: 256,
  /** AWS IoT Core: at most 7 slashes in a topic or filter (8 levels); `$aws/things/<t>/shadow/
   * name/<s>/update/documents` has exactly 8. */
  maxTopicLevels: 8,
  /** AWS IoT Core: client id ≤ 128 bytes (and thing names are ≤ 128 characters). */
  maxClientIdLength: 128,
  /** AWS IoT Core: 8 filters per SUBSCRIBE; the packet may hold that many filters of the
   * maximum topic size (plus packet id, lengths and QoS bytes) and no more. */
  maxFiltersPerSubscribe: 8,
  /** AWS IoT Core: 50 subscriptions per connection. */
  maxSubscriptionsPerConnection: 50,
  /** AWS IoT Core: 100 inbound publish requests per second per connection. We count PUBLISH,
   * SUBSCRIBE and UNSUBSCRIBE; above the rate the connection is not read until the rate allows
   * (TCP backpressure), so an abuser slows itself and costs the service nothing extra. */
  requestsPerSecond: 100,
  /** Burst allowance of the rate above (one second's worth). */
  requestBurst: 100,
  /** AWS does not publish a figure (it throttles slow consumers). Ours: a connection whose unsent
   * output exceeds this is not reading; it is disconnected rather than buffered for. */
  maxUnsentBytesPerConnection: 1024 * 1024,
  /** AWS documents no count (messages wait up to the session expiry, 1 hour by default). Ours:
   * at most this many QoS 1 messages wait for a persistent session; later ones are dropped
   * (a device recovers its state with `get` / `start-next` / shadow `get`). */
  maxQueuedPerSession: 100,
  /** AWS: no retained messages on reserved (`$aws/…`) topics; here every topic a thing may
   * publish to is under `$aws/things/<thing>/`, so nothing is ever retained. */
  retainAllowed: false,
  /** Ours (AWS closes idle pre-CONNECT connections but publishes no figure): the CONNECT must
   * arrive within this many ms of the TCP connection. */
  connectTimeoutMs: 10_000,
  /** Ours: connections that have not completed CONNECT. Above this many, each new connection
   * closes the oldest pending one if that one has had `pendingGraceMs` to send its CONNECT (a
   * device sends it at once); so idle connections cannot lock devices out, and a reconnect storm
   * of a whole fleet (all younger than the grace) is not cut down. */
  maxPendingConnections: 256,
  pendingGraceMs: 2_000,
  /** …and never more than this many at once (descriptors), whatever their age. */
  maxPendingConnectionsHard: 8192,
  /** Ours: what pending connections' CONNECTs may declare in total (a device's is ~100 bytes);
   * beyond it a CONNECT is refused at its header, so 8,192 half-sent 132 KB CONNECTs cannot
   * hold a gigabyte. */
  pendingConnectBudgetBytes: 8 * 1024 * 1024,
  /** Refusals are logged as one summary line per interval (the first one at once). */
  refusalLogIntervalMs: 10_000,
} as const;

/** The largest remaining length a packet of this MQTT type may declare; checked on the raw bytes
 * before anything of the packet is buffered. (A PUBLISH's payload is also checked exactly, once
 * its topic length is known: packet-guard.ts.) */
export function maxRemainingLength(packetType: number): number {
  // SUBSCRIBE (8) / UNSUBSCRIBE (10): packet id + per filter (length, topic, QoS byte).
  if (packetType === 8 || packetType === 10)
    return 2 + MQTT_LIMITS.maxFiltersPerSubscribe * (2 + MQTT_LIMITS.maxTopicBytes + 1);
  // PUBLISH: topic length and topic, packet id, payload.
  const publish = 2 + MQTT_LIMITS.maxTopicBytes + 2 + MQTT_LIMITS.maxPayloadBytes;
  // CONNECT carries a will message (a publish) plus protocol name, flags, keepalive, client id,
  // username and password: 1 KB more. The other packets are a few bytes; the same bound does.
  return packetType === 3 ? publish : publish + 1024;
}

/** The HTTP API. */
export const HTTP_LIMITS = {
  /**
   * AWS documents no request-size quota for these APIs. Ours: the largest legitimate body is
   * CreateJob's 32 KB document with its other members (a shadow update is at most 8 KB of state),
   * so 256 KB leaves room and stops a client from making the service hold megabytes. Counted while
   * the body streams, chunked or not: past it the request is answered 413 at once.
   */
  maxBodyBytes: 256 * 1024,
} as const;
