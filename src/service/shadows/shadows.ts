/**
 * Device shadows, classic and named: update / get / delete with versions, `null` deletes, delta,
 * documents, metadata, and the reserved `$package` shadow's key rules. One store behind both the
 * MQTT topics and the HTTP API. Errors are ServiceErrors with the shadow service's messages.
 */
import { dictOf, emptyDict, own } from "../dict.ts";
import { ServiceError } from "../errors.ts";
import type { Shadow } from "../model.ts";
import { shadowKey, type Store } from "../store.ts";
import { PACKAGE_SHADOW_NAME, SHADOW_NAME_PATTERN as SHADOW_NAME } from "../../protocol/ids.ts";
import { MAX_SHADOW_CLIENT_TOKEN_BYTES } from "../../protocol/limits.ts";

type Result<T> = { ok: true; value: T } | { ok: false; error: ServiceError };
type State = Record<string, unknown>;
/** Shadows by thing name. */
const BY_THING = "shadow.thing";

export const PACKAGE_SHADOW = PACKAGE_SHADOW_NAME;
const MAX_DEPTH = 6;
/** The state part of a shadow document (metadata excluded). */
export const MAX_STATE_BYTES = 8192;

/** The shadow service's numeric codes are `httpError(error).status` (shadow-topics.ts). */
const CODES = {
  400: "InvalidRequest",
  404: "ResourceNotFound",
  409: "Conflict",
  413: "RequestEntityTooLarge",
} as const;
const fail = (code: keyof typeof CODES, message: string): { ok: false; error: ServiceError } => ({
  ok: false,
  error: new ServiceError(CODES[code], message),
});

export interface UpdateResult {
  /** `/update/accepted`. */
  readonly accepted: Record<string, unknown>;
  /** `/update/delta`, when desired and reported differ. */
  readonly delta?: Record<string, unknown>;
  /** `/update/documents`. */
  readonly documents: Record<string, unknown>;
}

export class ShadowService {
  constructor(
    private readonly store: Store,
    private readonly thingExists: (thingName: string) => boolean,
    private readonly now: () => number,
    private readonly onChange: (thingName: string) => void,
  ) {
    store.defineIndex("shadow", BY_THING, (s) => [s.thingName]);
  }

  private find(thingName: string, shadowName: string): Shadow | undefined {
    return this.store.get("shadow", shadowKey(thingName, shadowName));
  }

  /** States by shadow name, for the fleet index. */
  statesOf(thingName: string): ReadonlyMap<string, { readonly desired?: State; readonly reported?: State }> {
    const out = new Map<string, { readonly desired?: State; readonly reported?: State }>();
    for (const s of this.store.records("shadow", BY_THING, thingName)) out.set(s.shadowName, s.state);
    return out;
  }

  names(thingName: string): string[] {
    return this.store
      .records("shadow", BY_THING, thingName)
      .map((s) => s.shadowName)
      .filter((n) => n !== "")
      .sort();
  }

  private check(thingName: string, shadowName: string): { ok: false; error: ServiceError } | undefined {
    if (shadowName !== "" && !SHADOW_NAME.test(shadowName)) return fail(400, "Invalid shadow name");
    if (!this.thingExists(thingName)) return fail(404, "Thing not found");
    return undefined;
  }

  get(thingName: string, shadowName: string, clientToken?: string): Result<Record<string, unknown>> {
    const problem = this.check(thingName, shadowName);
    if (problem) return problem;
    const s = this.find(thingName, shadowName);
    if (!s)
      return fail(
        404,
        shadowName ? `No shadow exists with name: ${shadowName}` : `No shadow exists with name: '${thingName}'`,
      );
    const state: Record<string, unknown> = { ...s.state };
    const delta = computeDelta(s.state.desired, s.state.reported);
    if (delta) state.delta = delta;
    return {
      ok: true,
      value: {
        state,
        metadata: s.metadata,
        version: s.version,
        timestamp: this.seconds(),
        ...(clientToken !== undefined ? { clientToken } : {}),
      },
    };
  }

  delete(thingName: string, shadowName: string, clientToken?: string): Result<Record<string, unknown>> {
    const problem = this.check(thingName, shadowName);
    if (problem) return problem;
    const s = this.find(thingName, shadowName);
    if (!s)
      return fail(
        404,
        shadowName ? `No shadow exists with name: ${shadowName}` : `No shadow exists with name: '${thingName}'`,
      );
    this.store.transaction(() => {
      this.store.delete("shadow", shadowKey(thingName, shadowName));
      this.onChange(thingName);
    });
    return {
      ok: true,
      value: { version: s.version, timestamp: this.seconds(), ...(clientToken !== undefined ? { clientToken } : {}) },
    };
  }

  /** UpdateThingShadow: `body` is the parsed request document. */
  update(thingName: string, shadowName: string, body: unknown, payloadBytes: number): Result<UpdateResult> {
    const problem = this.check(thingName, shadowName);
    if (problem) return problem;
    if (body === null || typeof body !== "object" || Array.isArray(body)) return fail(400, "Invalid JSON");
    const request = body as Record<string, unknown>;
    const clientToken = request.clientToken;
    const tokenBytes = typeof clientToken === "string" ? new TextEncoder().encode(clientToken).length : 0;
    if (clientToken !== undefined && (typeof clientToken !== "string" || tokenBytes > MAX_SHADOW_CLIENT_TOKEN_BYTES)) {
      return fail(400, "Invalid clientToken");
    }
    if (!("state" in request)) return fail(400, "Missing required node: state");
    const state = request.state;
    if (state === null || typeof state !== "object" || Array.isArray(state))
      return fail(400, "State node must be an object");
    const { desired, reported } = state as { desired?: unknown; reported?: unknown };
    for (const [name, node] of [
      ["Desired", desired],
      ["Reported", reported],
    ] as const) {
      if (node !== undefined && node !== null && (typeof node !== "object" || Array.isArray(node)))
        return fail(400, `${name} node must be an object`);
    }
    for (const key of Object.keys(state))
      if (key !== "desired" && key !== "reported") return fail(400, "State contains an invalid node");
    // Levels inside desired / reported, as the shadow service counts them.
    if (depth(desired) > MAX_DEPTH || depth(reported) > MAX_DEPTH)
      return fail(400, `JSON contains too many levels of nesting; maximum is ${MAX_DEPTH}`);
    const version = request.version;
    if (version !== undefined && (typeof version !== "number" || !Number.isInteger(version) || version < 0))
      return fail(400, "Invalid version");
    if (payloadBytes > MAX_STATE_BYTES) return fail(413, "The payload exceeds the maximum size allowed");
    if (shadowName === PACKAGE_SHADOW) {
      for (const node of [desired, reported]) {
        if (!node || typeof node !== "object") continue;
        for (const pkg of Object.values(node as State)) {
          if (pkg === null) continue;
          if (typeof pkg !== "object" || Array.isArray(pkg)) return fail(400, "State contains an invalid node");
          for (const k of Object.keys(pkg as State))
            if (k !== "version" && k !== "attributes") return fail(400, "State contains an invalid node");
        }
      }
    }

    const existing = this.find(thingName, shadowName);
    if (existing && version !== undefined && version !== existing.version) return fail(409, "Version conflict");
    if (!existing && version !== undefined && version !== 0 && version !== 1) return fail(409, "Version conflict");

    // The new document is built beside the stored one, which stays as it is if this is refused.
    const now = this.seconds();
    const previous = existing
      ? { state: existing.state, metadata: existing.metadata, version: existing.version }
      : undefined;
    const nextState: { desired?: State; reported?: State } = { ...existing?.state };
    const nextMetadata: { desired?: State; reported?: State } = { ...existing?.metadata };
    const acceptedMetadata: Record<string, unknown> = {};
    for (const section of ["desired", "reported"] as const) {
      const change = (state as State)[section];
      if (change === undefined) continue;
      if (change === null) {
        delete nextState[section];
        delete nextMetadata[section];
        acceptedMetadata[section] = null;
        continue;
      }
      nextState[section] = merge(nextState[section] ?? emptyDict(), change as State);
      nextMetadata[section] = mergeMetadata(nextMetadata[section] ?? emptyDict(), change as State, now);
      acceptedMetadata[section] = stampLeaves(change as State, now);
      if (Object.keys(nextState[section]!).length === 0) {
        delete nextState[section];
        delete nextMetadata[section];
      }
    }
    if (new TextEncoder().encode(JSON.stringify(nextState)).length > MAX_STATE_BYTES) {
      return fail(413, "The payload exceeds the maximum size allowed");
    }
    const shadow: Shadow = {
      thingName,
      shadowName,
      state: nextState,
      metadata: nextMetadata,
      version: (existing?.version ?? 0) + 1,
      timestamp: now,
    };
    this.store.transaction(() => {
      this.store.put("shadow", shadowKey(thingName, shadowName), shadow);
      this.onChange(thingName);
    });

    const tokenField = clientToken !== undefined ? { clientToken } : {};
    const accepted = { state, metadata: acceptedMetadata, version: shadow.version, timestamp: now, ...tokenField };
    const deltaState = computeDelta(shadow.state.desired, shadow.state.reported);
    const delta =
      deltaState && (state as State).desired !== undefined
        ? {
            version: shadow.version,
            timestamp: now,
            state: deltaState,
            metadata: stampLeaves(deltaState, now),
            ...tokenField,
          }
        : undefined;
    const documents = {
      previous: previous ?? null,
      current: { state: shadow.state, metadata: shadow.metadata, version: shadow.version },
      timestamp: now,
      ...tokenField,
    };
    return { ok: true, value: { accepted, ...(delta ? { delta } : {}), documents } };
  }

  private seconds(): number {
    return Math.floor(this.now() / 1000);
  }
}

function isObject(v: unknown): v is State {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

// User keys (`__proto__`, `constructor` included) are own keys of prototype-free objects (dict.ts),
// so they are stored, indexed, persisted and read back alike.

/** Deep merge; `null` deletes a key; arrays and scalars replace. */
function merge(base: State, change: State): State {
  const out = dictOf(base);
  for (const [k, v] of Object.entries(change)) {
    const current = own(out, k);
    if (v === null) delete out[k];
    else if (isObject(v) && isObject(current)) out[k] = merge(current, v);
    else if (isObject(v)) out[k] = merge(emptyDict(), v);
    else out[k] = v;
  }
  return out;
}

function stampLeaves(change: State, now: number): State {
  const out = emptyDict<unknown>();
  for (const [k, v] of Object.entries(change)) out[k] = isObject(v) ? stampLeaves(v, now) : { timestamp: now };
  return out;
}

function mergeMetadata(base: State, change: State, now: number): State {
  const out = dictOf(base);
  for (const [k, v] of Object.entries(change)) {
    const current = own(out, k);
    if (v === null) delete out[k];
    else if (isObject(v))
      out[k] = mergeMetadata(isObject(current) && !Object.hasOwn(current, "timestamp") ? current : emptyDict(), v, now);
    else out[k] = { timestamp: now };
  }
  return out;
}

/** Desired fields that reported lacks or holds differently; never reported-only fields. */
function computeDelta(desired: State | undefined, reported: State | undefined): State | undefined {
  if (!desired) return undefined;
  const out = emptyDict<unknown>();
  for (const [k, v] of Object.entries(desired)) {
    const r = own(reported, k);
    if (isObject(v) && isObject(r)) {
      const inner = computeDelta(v, r);
      if (inner) out[k] = inner;
    } else if (JSON.stringify(v) !== JSON.stringify(r)) out[k] = v;
  }
  return Object.keys(out).length ? out : undefined;
}

function depth(v: unknown): number {
  if (!isObject(v) && !Array.isArray(v)) return 0;
  let max = 0;
  for (const child of Object.values(v as object)) max = Math.max(max, depth(child));
  return max + 1;
}
