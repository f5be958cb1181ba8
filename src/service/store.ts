/**
 * The service's state: in memory for reads, written through to SQLite (bun:sqlite, WAL), loaded
 * back at start — so a restart loses nothing. One table of JSON records keyed by kind and key.
 *
 * One transaction per command: a command's derived changes (group membership, continuous jobs,
 * job status) commit with it or not at all, and memory never holds what SQLite refused (a full
 * disk). Inside `transaction`, every `put`/`delete` runs its SQL statement at once and is staged:
 * reads in the transaction see the staged records (and indexes), the shared maps do not change.
 * Only after COMMIT succeeds are the staged changes applied to memory and the follow-ups queued
 * with `afterCommit` (MQTT notifications, timers) run. If a statement, the command itself or the
 * COMMIT fails, SQLite rolls back and the staging is dropped: memory is as it was.
 *
 * Records handed out are frozen (shallowly) and typed readonly: a change is a new record `put`.
 * Secondary indexes (`defineIndex`) are kept by the store, staged like the records, so a lookup
 * costs what it returns, not what the history holds.
 */
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type {
  Certificate,
  Execution,
  IotPolicy,
  LocalCa,
  S3Bucket,
  S3Object,
  Job,
  JobTemplate,
  PackageConfiguration,
  PackageVersion,
  Shadow,
  SoftwarePackage,
  Thing,
  ThingGroup,
  ThingType,
} from "./model.ts";

interface Kinds {
  thing: Thing;
  thingType: ThingType;
  group: ThingGroup;
  job: Job;
  execution: Execution;
  package: SoftwarePackage;
  version: PackageVersion;
  shadow: Shadow;
  setting: PackageConfiguration | { readonly value: number };
  jobTemplate: JobTemplate;
  certificate: Certificate;
  policy: IotPolicy;
  localCa: LocalCa;
  s3bucket: S3Bucket;
  s3object: S3Object;
  /** Keys the service makes for itself (the S3 pre-signing secret); never logged or answered. */
  secret: { readonly value: string };
}
export type Kind = keyof Kinds;
export type RecordOf<K extends Kind> = Kinds[K];

export const executionKey = (jobId: string, thingName: string, executionNumber: number) =>
  `${jobId}\u0000${thingName}\u0000${executionNumber}`;
export const versionKey = (packageName: string, versionName: string) => `${packageName}\u0000${versionName}`;
export const shadowKey = (thingName: string, shadowName: string) => `${thingName}\u0000${shadowName}`;

/** The database file inside a data directory. */
export const DATABASE_FILE = "iot-jobs-local.sqlite";

interface Index {
  readonly name: string;
  readonly kind: Kind;
  readonly values: (record: never) => readonly string[];
  readonly map: Map<string, Set<string>>;
}

interface Transaction {
  /** kind → key → the staged record (undefined: deleted). */
  readonly records: Map<Kind, Map<string, unknown>>;
  /** index name → bucket → key → in the bucket or not, over the committed index. */
  readonly buckets: Map<string, Map<string, Map<string, boolean>>>;
  readonly after: (() => void)[];
  readonly rollback: (() => void)[];
}

const EMPTY: ReadonlySet<string> = new Set();

export class Store {
  private readonly db: Database;
  private readonly maps: { [K in Kind]: Map<string, Kinds[K]> } = {
    thing: new Map(),
    thingType: new Map(),
    group: new Map(),
    job: new Map(),
    execution: new Map(),
    package: new Map(),
    version: new Map(),
    shadow: new Map(),
    setting: new Map(),
    jobTemplate: new Map(),
    certificate: new Map(),
    policy: new Map(),
    localCa: new Map(),
    s3bucket: new Map(),
    s3object: new Map(),
    secret: new Map(),
  };
  private readonly indexes = new Map<string, Index>();
  private readonly indexesOf = new Map<Kind, Index[]>();
  private readonly upsert;
  private readonly remove;
  private tx: Transaction | undefined;
  private readonly commitListeners: ((kind: Kind, key: string) => void)[] = [];

  /** `dataDir` undefined: an in-memory database (tests, throw-away demos). */
  constructor(dataDir: string | undefined) {
    if (dataDir) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    this.db = new Database(dataDir ? join(dataDir, DATABASE_FILE) : ":memory:", { create: true });
    this.db.run("PRAGMA journal_mode = WAL");
    this.db.run("PRAGMA synchronous = NORMAL");
    this.db.run(
      "CREATE TABLE IF NOT EXISTS records (kind TEXT NOT NULL, key TEXT NOT NULL, json TEXT NOT NULL, PRIMARY KEY (kind, key))",
    );
    this.upsert = this.db.prepare(
      "INSERT INTO records (kind, key, json) VALUES (?, ?, ?) ON CONFLICT (kind, key) DO UPDATE SET json = excluded.json",
    );
    this.remove = this.db.prepare("DELETE FROM records WHERE kind = ? AND key = ?");
    const rows = this.db.query("SELECT kind, key, json FROM records").all() as {
      kind: Kind;
      key: string;
      json: string;
    }[];
    for (const row of rows) {
      (this.maps[row.kind] as Map<string, unknown> | undefined)?.set(row.key, Object.freeze(JSON.parse(row.json)));
    }
  }

  get<K extends Kind>(kind: K, key: string): Kinds[K] | undefined {
    const staged = this.tx?.records.get(kind);
    if (staged?.has(key)) return staged.get(key) as Kinds[K] | undefined;
    return this.maps[kind].get(key);
  }

  *all<K extends Kind>(kind: K): IterableIterator<Kinds[K]> {
    const staged = this.tx?.records.get(kind);
    if (!staged) return yield* this.maps[kind].values();
    for (const [key, record] of this.maps[kind]) if (!staged.has(key)) yield record;
    for (const record of staged.values()) if (record !== undefined) yield record as Kinds[K];
  }

  count(kind: Kind): number {
    let n = 0;
    for (const _ of this.all(kind)) n++;
    return n;
  }

  /**
   * A secondary index: `values(record)` names the buckets a record belongs to (none, one or more).
   * Defined once at start (built from the loaded records), kept up to date by put/delete.
   */
  defineIndex<K extends Kind>(kind: K, name: string, values: (record: Kinds[K]) => readonly string[]): void {
    if (this.indexes.has(name)) throw new Error(`Index ${name} is defined twice`);
    const index: Index = { name, kind, values: values as (record: never) => readonly string[], map: new Map() };
    this.indexes.set(name, index);
    this.indexesOf.set(kind, [...(this.indexesOf.get(kind) ?? []), index]);
    for (const [key, record] of this.maps[kind]) this.indexAdd(index, key, record);
  }

  /**
   * Keys of the records in bucket `value` of index `name` (as staged, inside a transaction).
   * A view, not a copy: what a transaction staged is read beside the committed bucket, so a
   * lookup costs what it returns even while thousands of records are staged.
   */
  *lookup(name: string, value: string): IterableIterator<string> {
    const { committed, staged } = this.bucket(name, value);
    if (!staged) return yield* committed;
    for (const key of committed) if (staged.get(key) !== false) yield key;
    for (const [key, member] of staged) if (member && !committed.has(key)) yield key;
  }

  /** How many records bucket `value` of index `name` holds (as staged), without listing them. */
  sizeOf(name: string, value: string): number {
    const { committed, staged } = this.bucket(name, value);
    let size = committed.size;
    for (const [key, member] of staged ?? []) {
      if (member && !committed.has(key)) size++;
      else if (!member && committed.has(key)) size--;
    }
    return size;
  }

  private bucket(name: string, value: string): { committed: ReadonlySet<string>; staged?: Map<string, boolean> } {
    const index = this.indexes.get(name);
    if (!index) throw new Error(`No index ${name}`);
    return { committed: index.map.get(value) ?? EMPTY, staged: this.tx?.buckets.get(name)?.get(value) };
  }

  /** Records of bucket `value` of an index on `kind`. */
  records<K extends Kind>(kind: K, name: string, value: string): Kinds[K][] {
    const out: Kinds[K][] = [];
    for (const key of this.lookup(name, value)) {
      const record = this.get(kind, key);
      if (record) out.push(record);
    }
    return out;
  }

  /** Saves a record (new or replacing the previous one). Joins the open transaction, or is its own. */
  put<K extends Kind>(kind: K, key: string, value: Kinds[K]): void {
    this.transaction(() => {
      this.upsert.run(kind, key, JSON.stringify(value));
      this.stage(kind, key, Object.freeze(value) as Kinds[K]);
    });
  }

  delete(kind: Kind, key: string): void {
    this.transaction(() => {
      if (this.get(kind, key) === undefined) return;
      this.remove.run(kind, key);
      this.stage(kind, key, undefined);
    });
  }

  /**
   * Runs `fn` as one SQLite transaction (nested calls join the outer one). Memory changes only
   * once COMMIT succeeds; if `fn` throws or SQLite refuses, nothing changes and the error is
   * rethrown.
   */
  transaction<T>(fn: () => T): T {
    if (this.tx) return fn();
    const tx: Transaction = { records: new Map(), buckets: new Map(), after: [], rollback: [] };
    this.db.run("BEGIN IMMEDIATE");
    this.tx = tx;
    let result: T;
    try {
      result = fn();
      this.db.run("COMMIT");
    } catch (error) {
      this.tx = undefined;
      try {
        if (this.db.inTransaction) this.db.run("ROLLBACK");
      } finally {
        for (const f of tx.rollback) f();
      }
      throw error;
    }
    this.tx = undefined;
    for (const [kind, staged] of tx.records) {
      for (const [key, record] of staged) this.setRecord(kind, key, this.maps[kind].get(key), record as never);
    }
    for (const listener of this.commitListeners) {
      for (const [kind, staged] of tx.records) for (const key of staged.keys()) listener(kind, key);
    }
    // Committed: every follow-up runs even if one throws; the first error is then reported.
    let failure: unknown;
    for (const f of tx.after) {
      try {
        f();
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure !== undefined) throw failure;
    return result;
  }

  /** Runs `fn` once the open transaction commits (never if it rolls back); at once outside one. */
  afterCommit(fn: () => void): void {
    if (this.tx) this.tx.after.push(fn);
    else fn();
  }

  /** Memory kept outside the store (staged by its owner) learns that the transaction was dropped. */
  onRollback(fn: () => void): void {
    this.tx?.rollback.push(fn);
  }

  /**
   * Calls `listener(kind, key)` for each record a committed transaction changed (the console's
   * live updates). It must be cheap and must not throw: it runs inside every commit.
   */
  onCommit(listener: (kind: Kind, key: string) => void): void {
    this.commitListeners.push(listener);
  }

  get inTransaction(): boolean {
    return this.tx !== undefined;
  }

  /** A counter that survives restarts (job sequence numbers). */
  next(counter: string): number {
    const current = (this.get("setting", counter) as { value: number } | undefined)?.value ?? 0;
    this.put("setting", counter, { value: current + 1 });
    return current + 1;
  }

  close(): void {
    this.db.close();
  }

  /** Records the change in the open transaction: the record and its index buckets. */
  private stage<K extends Kind>(kind: K, key: string, value: Kinds[K] | undefined): void {
    const tx = this.tx!;
    const previous = this.get(kind, key);
    let records = tx.records.get(kind);
    if (records === undefined) {
      records = new Map();
      tx.records.set(kind, records);
    }
    records.set(key, value);
    for (const index of this.indexesOf.get(kind) ?? []) {
      let buckets = tx.buckets.get(index.name);
      if (buckets === undefined) {
        buckets = new Map();
        tx.buckets.set(index.name, buckets);
      }
      if (previous !== undefined)
        for (const bucket of index.values(previous as never)) mark(buckets, bucket, key, false);
      if (value !== undefined) for (const bucket of index.values(value as never)) mark(buckets, bucket, key, true);
    }
  }

  private setRecord<K extends Kind>(kind: K, key: string, from: Kinds[K] | undefined, to: Kinds[K] | undefined): void {
    for (const index of this.indexesOf.get(kind) ?? []) {
      if (from !== undefined) this.indexRemove(index, key, from);
      if (to !== undefined) this.indexAdd(index, key, to);
    }
    if (to === undefined) this.maps[kind].delete(key);
    else this.maps[kind].set(key, to);
  }

  private indexAdd(index: Index, key: string, record: unknown): void {
    for (const value of index.values(record as never)) {
      const keys = index.map.get(value);
      if (keys) keys.add(key);
      else index.map.set(value, new Set([key]));
    }
  }

  private indexRemove(index: Index, key: string, record: unknown): void {
    for (const value of index.values(record as never)) {
      const keys = index.map.get(value);
      if (!keys) continue;
      keys.delete(key);
      if (keys.size === 0) index.map.delete(value);
    }
  }
}

/** Stages `key` in or out of `bucket`. */
function mark(buckets: Map<string, Map<string, boolean>>, bucket: string, key: string, member: boolean): void {
  let keys = buckets.get(bucket);
  if (keys === undefined) {
    keys = new Map();
    buckets.set(bucket, keys);
  }
  keys.set(key, member);
}
