/**
 * The store's contract (src/service/store.ts) and the engine's timers on it: one transaction per
 * command, memory restored when SQLite refuses, follow-ups only after COMMIT, indexes that roll
 * back with the records, frozen records — and a timer whose change SQLite refuses is retried.
 */
import { describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { JobsEngine } from "../../src/service/jobs/jobs-engine.ts";
import type { Job, Thing } from "../../src/service/model.ts";
import { Store } from "../../src/service/store.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { tempDir } from "../helpers/temp.ts";

const thing = (thingName: string, groups: string[] = []): Thing => ({
  thingName,
  thingId: `id-${thingName}`,
  attributes: {},
  version: 1,
  groups,
});
const dbOf = (store: Store) => (store as unknown as { db: Database }).db;
/** Every write fails from inside SQLite, the way a full disk fails them. */
const refuseWrites = (store: Store) => {
  dbOf(store).run("CREATE TRIGGER refuse_u BEFORE UPDATE ON records BEGIN SELECT RAISE(ABORT, 'disk full'); END");
  dbOf(store).run("CREATE TRIGGER refuse_i BEFORE INSERT ON records BEGIN SELECT RAISE(ABORT, 'disk full'); END");
  return () => {
    dbOf(store).run("DROP TRIGGER refuse_u");
    dbOf(store).run("DROP TRIGGER refuse_i");
  };
};

describe("store", () => {
  test("a transaction SQLite refuses leaves records, indexes and follow-ups as if it never ran", () => {
    const store = new Store(undefined);
    store.defineIndex("thing", "by-group", (t) => t.groups);
    store.put("thing", "a", thing("a", ["g"]));
    const allow = refuseWrites(store);
    const ran: string[] = [];
    expect(() =>
      store.transaction(() => {
        store.delete("thing", "a"); // a DELETE is not refused by the triggers: it applies
        store.afterCommit(() => ran.push("notify"));
        store.put("thing", "b", thing("b", ["g"])); // refused
      }),
    ).toThrow("disk full");
    allow();
    expect(store.get("thing", "a")?.thingName).toBe("a");
    expect(store.get("thing", "b")).toBeUndefined();
    expect([...store.lookup("by-group", "g")]).toEqual(["a"]);
    expect(ran).toEqual([]);
    // And SQLite agrees with memory.
    const rows = dbOf(store).query("SELECT key FROM records WHERE kind = 'thing'").all() as { key: string }[];
    expect(rows.map((r) => r.key)).toEqual(["a"]);
  });

  test("a domain error thrown half-way rolls back what the command already wrote", () => {
    const store = new Store(undefined);
    store.put("thing", "a", thing("a"));
    expect(() =>
      store.transaction(() => {
        store.put("thing", "a", { ...thing("a"), version: 2 });
        store.put("thing", "c", thing("c"));
        throw new Error("refused after two writes");
      }),
    ).toThrow("refused after two writes");
    expect(store.get("thing", "a")?.version).toBe(1);
    expect(store.get("thing", "c")).toBeUndefined();
  });

  test("nested transactions join the outer one; follow-ups run once, after COMMIT, in order", () => {
    const store = new Store(undefined);
    const ran: string[] = [];
    store.transaction(() => {
      store.afterCommit(() => ran.push("outer"));
      store.transaction(() => {
        store.put("thing", "n", thing("n"));
        store.afterCommit(() => ran.push("inner"));
      });
      expect(ran).toEqual([]);
      expect(dbOf(store).inTransaction).toBe(true);
    });
    expect(ran).toEqual(["outer", "inner"]);
    expect(dbOf(store).inTransaction).toBe(false);
  });

  test("records handed out are frozen: a change is a new record given to put", () => {
    const store = new Store(undefined);
    store.put("thing", "f", thing("f"));
    const t = store.get("thing", "f")!;
    expect(() => {
      (t as { version: number }).version = 9;
    }).toThrow(TypeError);
    expect(store.get("thing", "f")?.version).toBe(1);
  });

  test("what was committed is what a restart loads", () => {
    const dir = tempDir("store-");
    let store = new Store(dir);
    store.put("thing", "p", thing("p", ["g1"]));
    const allow = refuseWrites(store);
    expect(() => store.put("thing", "q", thing("q"))).toThrow();
    allow();
    store.close();
    store = new Store(dir);
    store.defineIndex("thing", "by-group", (t) => t.groups);
    expect([...store.all("thing")].map((t) => t.thingName)).toEqual(["p"]);
    expect([...store.lookup("by-group", "g1")]).toEqual(["p"]);
    store.close();
  });
});

describe("engine timers on a ManualClock", () => {
  test("a step timer whose TIMED_OUT cannot be saved is retried, and applies once the disk has room", () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const store = new Store(undefined);
    const errors: unknown[] = [];
    const notes: string[] = [];
    const engine = new JobsEngine(store, {
      minuteMs: 60_000,
      clock,
      notify: (thingName, suffix) => notes.push(`${thingName} ${suffix}`),
      onTimerError: (error) => errors.push(error),
    });
    const job: Job = {
      jobId: "j",
      jobArn: "arn:aws:iot:us-east-1:123456789012:job/j",
      targets: [],
      targetSelection: "SNAPSHOT",
      document: "{}",
      documentBeforeSubstitution: "{}",
      destinationPackageVersions: [],
      destinationPackageVersionsBeforeSubstitution: [],
      status: "IN_PROGRESS",
      createdAt: 0,
      lastUpdatedAt: 0,
      sequence: 1,
    };
    store.put("job", "j", job);
    engine.start();
    engine.queue(job, "t");
    expect(engine.startNext("t", undefined, 1)?.status).toBe("IN_PROGRESS");
    expect(clock.pending()).toBe(1);
    notes.length = 0;

    const allow = refuseWrites(store);
    clock.advance(60_000);
    expect(errors.length).toBe(1);
    expect(engine.execution("j", "t")?.status).toBe("IN_PROGRESS");
    expect(notes).toEqual([]); // nothing announced for a change that did not happen
    clock.advance(1_000);
    expect(errors.length).toBe(2);
    allow();
    clock.advance(1_000);
    const e = engine.execution("j", "t")!;
    expect([e.status, e.statusDetails.timedOut]).toEqual(["TIMED_OUT", "step timer expired"]);
    expect(store.get("job", "j")?.status).toBe("COMPLETED");
    expect(notes).toEqual(["t notify", "t notify-next"]);
    expect(clock.pending()).toBe(0);
    engine.stop();
  });
});
