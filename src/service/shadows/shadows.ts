/**
 * Device shadows, classic and named: update / get / delete with versions, `null` deletes, delta,
 * documents, metadata, and the reserved `$package` shadow's key rules. One store behind both the
 * MQTT topics and the HTTP API. Errors carry the shadow service's codes and messages.
 */
import type { Shadow } from "../model.ts";
import { shadowKey, type Store } from "../store.ts";
import { PACKAGE_SHADOW_NAME, SHADOW_NAME_PATTERN as SHADOW_NAME } from "../../protocol/ids.ts";
import { MAX_SHADOW_CLIENT_TOKEN_BYTES } from "../../protocol/limits.ts";

export interface ShadowError {
  readonly code: number;
  readonly message: string;
}

type Result<T> = { ok: true; value: T } | { ok: false; error: ShadowError };
type State = Record<string, unknown>;

export const PACKAGE_SHADOW = PACKAGE_SHADOW_NAME;
const MAX_DEPTH = 6;
/** The state part of a shadow document (metadata excluded). */
export const MAX_STATE_BYTES = 8192;

const fail = (code: number, message: string): { ok: false; error: ShadowError } => ({ ok: false, error: { code, message } });

export interface UpdateResult {
  /** `/update/accepted`. */
  readonly accepted: Record<string, unknown>;
  /** `/update/delta`, when desired and reported differ. */
  readonly delta?: Record<string, unknown>;
  /** `/update/documents`. */
  readonly documents: Record<string, unknown>;
}

export class ShadowService {
  /** thing → its shadows by name ("" = classic), mirroring the store. */
  private readonly byThing = new Map<string, Map<string, Shadow>>();

  constructor(
    private readonly store: Store,
    private readonly thingExists: (thingName: string) => boolean,
    private readonly now: () => number,
    private readonly onChange: (thingName: string) => void,
  ) {
    for (const s of store.all("shadow")) this.indexShadow(s);
  }

  private indexShadow(s: Shadow): void {
    let m = this.byThing.get(s.thingName);
    if (!m) this.byThing.set(s.thingName, (m = new Map()));
    m.set(s.shadowName, s);
  }

  /** States by shadow name, for the fleet index. */
  statesOf(thingName: string): ReadonlyMap<string, { desired?: State; reported?: State }> {
    const out = new Map<string, { desired?: State; reported?: State }>();
    for (const [name, s] of this.byThing.get(thingName) ?? []) out.set(name, s.state);
    return out;
  }

  names(thingName: string): string[] {
    return [...(this.byThing.get(thingName)?.keys() ?? [])].filter((n) => n !== "").sort();
  }

  private check(thingName: string, shadowName: string): ShadowError | undefined {
    if (shadowName !== "" && !SHADOW_NAME.test(shadowName)) return { code: 400, message: "Invalid shadow name" };
    if (!this.thingExists(thingName)) return { code: 404, message: "Thing not found" };
    return undefined;
  }

  get(thingName: string, shadowName: string, clientToken?: string): Result<Record<string, unknown>> {
    const problem = this.check(thingName, shadowName);
    if (problem) return { ok: false, error: problem };
    const s = this.byThing.get(thingName)?.get(shadowName);
    if (!s) return fail(404, shadowName ? `No shadow exists with name: ${shadowName}` : `No shadow exists with name: '${thingName}'`);
    const state: Record<string, unknown> = { ...s.state };
    const delta = computeDelta(s.state.desired, s.state.reported);
    if (delta) state.delta = delta;
    return { ok: true, value: { state, metadata: s.metadata, version: s.version, timestamp: this.seconds(), ...(clientToken !== undefined ? { clientToken } : {}) } };
  }

  delete(thingName: string, shadowName: string, clientToken?: string): Result<Record<string, unknown>> {
    const problem = this.check(thingName, shadowName);
    if (problem) return { ok: false, error: problem };
    const s = this.byThing.get(thingName)?.get(shadowName);
    if (!s) return fail(404, shadowName ? `No shadow exists with name: ${shadowName}` : `No shadow exists with name: '${thingName}'`);
    this.byThing.get(thingName)!.delete(shadowName);
    this.store.delete("shadow", shadowKey(thingName, shadowName));
    this.onChange(thingName);
    return { ok: true, value: { version: s.version, timestamp: this.seconds(), ...(clientToken !== undefined ? { clientToken } : {}) } };
  }

  /** UpdateThingShadow: `body` is the parsed request document. */
  update(thingName: string, shadowName: string, body: unknown, payloadBytes: number): Result<UpdateResult> {
    const problem = this.check(thingName, shadowName);
    if (problem) return { ok: false, error: problem };
    if (body === null || typeof body !== "object" || Array.isArray(body)) return fail(400, "Invalid JSON");
    const request = body as Record<string, unknown>;
    const clientToken = request.clientToken;
    if (clientToken !== undefined && (typeof clientToken !== "string" || new TextEncoder().encode(clientToken).length > MAX_SHADOW_CLIENT_TOKEN_BYTES)) return fail(400, "Invalid clientToken");
    if (!("state" in request)) return fail(400, "Missing required node: state");
    const state = request.state;
    if (state === null || typeof state !== "object" || Array.isArray(state)) return fail(400, "State node must be an object");
    const { desired, reported } = state as { desired?: unknown; reported?: unknown };
    for (const [name, node] of [["Desired", desired], ["Reported", reported]] as const) {
      if (node !== undefined && node !== null && (typeof node !== "object" || Array.isArray(node))) return fail(400, `${name} node must be an object`);
    }
    for (const key of Object.keys(state)) if (key !== "desired" && key !== "reported") return fail(400, "State contains an invalid node");
    // Levels inside desired / reported, as the shadow service counts them.
    if (depth(desired) > MAX_DEPTH || depth(reported) > MAX_DEPTH) return fail(400, `JSON contains too many levels of nesting; maximum is ${MAX_DEPTH}`);
    const version = request.version;
    if (version !== undefined && (typeof version !== "number" || !Number.isInteger(version) || version < 0)) return fail(400, "Invalid version");
    if (payloadBytes > MAX_STATE_BYTES) return fail(413, "The payload exceeds the maximum size allowed");
    if (shadowName === PACKAGE_SHADOW) {
      for (const node of [desired, reported]) {
        if (!node || typeof node !== "object") continue;
        for (const pkg of Object.values(node as State)) {
          if (pkg === null) continue;
          if (typeof pkg !== "object" || Array.isArray(pkg)) return fail(400, "State contains an invalid node");
          for (const k of Object.keys(pkg as State)) if (k !== "version" && k !== "attributes") return fail(400, "State contains an invalid node");
        }
      }
    }

    const existing = this.byThing.get(thingName)?.get(shadowName);
    if (existing && version !== undefined && version !== existing.version) return fail(409, "Version conflict");
    if (!existing && version !== undefined && version !== 0 && version !== 1) return fail(409, "Version conflict");

    const now = this.seconds();
    const previous = existing ? structuredClone({ state: existing.state, metadata: existing.metadata, version: existing.version }) : undefined;
    const shadow: Shadow = existing ?? { thingName, shadowName, state: {}, metadata: {}, version: 0, timestamp: now };
    const acceptedMetadata: Record<string, unknown> = {};
    for (const section of ["desired", "reported"] as const) {
      const change = (state as State)[section];
      if (change === undefined) continue;
      if (change === null) {
        delete shadow.state[section];
        delete shadow.metadata[section];
        acceptedMetadata[section] = null;
        continue;
      }
      shadow.state[section] = merge(shadow.state[section] ?? {}, change as State) as State;
      shadow.metadata[section] = mergeMetadata(shadow.metadata[section] ?? {}, change as State, now) as State;
      acceptedMetadata[section] = stampLeaves(change as State, now);
      if (Object.keys(shadow.state[section]!).length === 0) {
        delete shadow.state[section];
        delete shadow.metadata[section];
      }
    }
    if (new TextEncoder().encode(JSON.stringify(shadow.state)).length > MAX_STATE_BYTES) {
      if (previous && existing) Object.assign(existing, { state: previous.state, metadata: previous.metadata });
      return fail(413, "The payload exceeds the maximum size allowed");
    }
    shadow.version++;
    shadow.timestamp = now;
    this.store.put("shadow", shadowKey(thingName, shadowName), shadow);
    this.indexShadow(shadow);
    this.onChange(thingName);

    const tokenField = clientToken !== undefined ? { clientToken } : {};
    const accepted = { state, metadata: acceptedMetadata, version: shadow.version, timestamp: now, ...tokenField };
    const deltaState = computeDelta(shadow.state.desired, shadow.state.reported);
    const delta = deltaState && (state as State).desired !== undefined ? { version: shadow.version, timestamp: now, state: deltaState, metadata: stampLeaves(deltaState, now), ...tokenField } : undefined;
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

/** Deep merge; `null` deletes a key; arrays and scalars replace. */
function merge(base: State, change: State): State {
  const out: State = { ...base };
  for (const [k, v] of Object.entries(change)) {
    if (v === null) delete out[k];
    else if (isObject(v) && isObject(out[k])) out[k] = merge(out[k] as State, v);
    else if (isObject(v)) out[k] = merge({}, v);
    else out[k] = v;
  }
  return out;
}

function stampLeaves(change: State, now: number): State {
  const out: State = {};
  for (const [k, v] of Object.entries(change)) out[k] = isObject(v) ? stampLeaves(v, now) : { timestamp: now };
  return out;
}

function mergeMetadata(base: State, change: State, now: number): State {
  const out: State = { ...base };
  for (const [k, v] of Object.entries(change)) {
    if (v === null) delete out[k];
    else if (isObject(v)) out[k] = mergeMetadata(isObject(out[k]) && !("timestamp" in (out[k] as State)) ? (out[k] as State) : {}, v, now);
    else out[k] = { timestamp: now };
  }
  return out;
}

/** Desired fields that reported lacks or holds differently; never reported-only fields. */
function computeDelta(desired: State | undefined, reported: State | undefined): State | undefined {
  if (!desired) return undefined;
  const out: State = {};
  for (const [k, v] of Object.entries(desired)) {
    const r = reported?.[k];
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
