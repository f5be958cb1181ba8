/**
 * The service's state: in memory for reads, written through to SQLite (bun:sqlite, WAL) on every
 * change, loaded back at start — so a restart loses nothing. One table of JSON records keyed by
 * kind and key keeps the schema trivial; the records are small and few (a fleet, its jobs).
 */
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Execution, Job, PackageConfiguration, PackageVersion, Shadow, SoftwarePackage, Thing, ThingGroup, ThingType } from "./model.ts";

interface Kinds {
  thing: Thing;
  thingType: ThingType;
  group: ThingGroup;
  job: Job;
  execution: Execution;
  package: SoftwarePackage;
  version: PackageVersion;
  shadow: Shadow;
  setting: PackageConfiguration | { value: number };
}
type Kind = keyof Kinds;

export const executionKey = (jobId: string, thingName: string, executionNumber: number) => `${jobId}\u0000${thingName}\u0000${executionNumber}`;
export const versionKey = (packageName: string, versionName: string) => `${packageName}\u0000${versionName}`;
export const shadowKey = (thingName: string, shadowName: string) => `${thingName}\u0000${shadowName}`;

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
  };
  private readonly upsert;
  private readonly remove;

  /** `dataDir` undefined: an in-memory database (tests, throw-away demos). */
  constructor(dataDir: string | undefined) {
    if (dataDir) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    this.db = new Database(dataDir ? join(dataDir, "iot-jobs-local.sqlite") : ":memory:", { create: true });
    this.db.run("PRAGMA journal_mode = WAL");
    this.db.run("PRAGMA synchronous = NORMAL");
    this.db.run("CREATE TABLE IF NOT EXISTS records (kind TEXT NOT NULL, key TEXT NOT NULL, json TEXT NOT NULL, PRIMARY KEY (kind, key))");
    this.upsert = this.db.prepare("INSERT INTO records (kind, key, json) VALUES (?, ?, ?) ON CONFLICT (kind, key) DO UPDATE SET json = excluded.json");
    this.remove = this.db.prepare("DELETE FROM records WHERE kind = ? AND key = ?");
    for (const row of this.db.query("SELECT kind, key, json FROM records").all() as { kind: Kind; key: string; json: string }[]) {
      (this.maps[row.kind] as Map<string, unknown> | undefined)?.set(row.key, JSON.parse(row.json));
    }
  }

  get<K extends Kind>(kind: K, key: string): Kinds[K] | undefined {
    return this.maps[kind].get(key);
  }

  all<K extends Kind>(kind: K): IterableIterator<Kinds[K]> {
    return this.maps[kind].values();
  }

  count(kind: Kind): number {
    return this.maps[kind].size;
  }

  /** Saves a record (new or changed in place). */
  put<K extends Kind>(kind: K, key: string, value: Kinds[K]): void {
    this.maps[kind].set(key, value);
    this.upsert.run(kind, key, JSON.stringify(value));
  }

  delete(kind: Kind, key: string): void {
    this.maps[kind].delete(key);
    this.remove.run(kind, key);
  }

  /** Runs `fn` in one SQLite transaction: a roll-out to 10,000 things is one commit. */
  batch<T>(fn: () => T): T {
    return this.db.transaction(fn)();
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
}
