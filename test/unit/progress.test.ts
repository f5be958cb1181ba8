/** Progress of long jobs: the handler's key=value lines, the step label, and the rate limit on an injected clock. */
import { describe, expect, test } from "bun:test";
import { parseProgressLines, stepLabel } from "../../src/jobs/progress.ts";
import { ProgressReporter } from "../../src/jobs/progress-reporter.ts";
import { ManualClock } from "../../src/util/clock.ts";

describe("progress lines", () => {
  test("key=value, last value wins, first-seen order; bad keys, step, empty values and blank lines ignored", () => {
    const text =
      "percent=10\nphase = download \nbad key=x\nstep=9/9 fake\n=novalue\nnoequals\npercent=40\r\n\nphase=\n";
    expect(parseProgressLines(text)).toEqual({ percent: "40" });
    expect(parseProgressLines("a=1\nb=2\na=3\n")).toEqual({ a: "3", b: "2" });
  });

  test("at most 9 handler keys (10 statusDetails entries with step); values cut at 1024", () => {
    const lines = Array.from({ length: 15 }, (_, i) => `k${i}=${i}`).join("\n");
    expect(Object.keys(parseProgressLines(lines))).toEqual(["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8"]);
    expect(parseProgressLines(`big=${"x".repeat(5000)}`).big).toHaveLength(1024);
  });

  test("only the end of a huge file is read", () => {
    const text = `${"old=1\n".repeat(20_000)}percent=99\n`;
    expect(parseProgressLines(text).percent).toBe("99");
  });

  test("the step label: position of total, then the name", () => {
    expect(stepLabel(1, 3, "Download-File")).toBe("2/3 Download-File");
  });
});

describe("ProgressReporter", () => {
  function setup(intervalMs = 30_000) {
    const clock = new ManualClock();
    let entries: Record<string, string> = {};
    const sent: { at: number; details: Record<string, string> }[] = [];
    const reporter = new ProgressReporter({
      clock,
      intervalMs,
      read: () => entries,
      send: (details) => sent.push({ at: clock.now(), details }),
      firstStep: "1/3 a",
    });
    return { clock, reporter, sent, set: (e: Record<string, string>) => (entries = e), t0: clock.now() };
  }

  test("at most one update per interval; only changes are sent; the latest state goes out", () => {
    const { clock, reporter, sent, set, t0 } = setup();
    expect(reporter.details()).toEqual({ step: "1/3 a" });
    reporter.stepStarted("1/3 a", true); // the first step's update was sent by the agent
    set({ percent: "10" });
    clock.advance(10_000);
    set({ percent: "20" });
    clock.advance(19_999);
    expect(sent).toEqual([]);
    clock.advance(1);
    expect(sent).toEqual([{ at: t0 + 30_000, details: { step: "1/3 a", percent: "20" } }]);
    clock.advance(30_000); // nothing changed: nothing sent
    expect(sent).toHaveLength(1);
    set({ percent: "30" });
    clock.advance(30_000);
    expect(sent.map((s) => s.details.percent)).toEqual(["20", "30"]);
    for (let i = 1; i < sent.length; i++) expect(sent[i]!.at - sent[i - 1]!.at).toBeGreaterThanOrEqual(30_000);
  });

  test("a step start without a step timer waits for the next free slot; one the agent sent counts as an update", () => {
    const { clock, reporter, sent, t0 } = setup();
    reporter.stepStarted("1/3 a", true);
    clock.advance(5_000);
    reporter.stepStarted("2/3 b", false);
    clock.advance(24_999);
    expect(sent).toEqual([]);
    clock.advance(1);
    expect(sent).toEqual([{ at: t0 + 30_000, details: { step: "2/3 b" } }]);
    clock.advance(1_000);
    reporter.stepStarted("3/3 c", true); // sent by the agent (step timer): the next update waits a full interval
    clock.advance(29_999);
    expect(sent).toHaveLength(1);
  });

  // (A jump forward is time passing for the runtime's monotonic timers: the interval bound holds.)
  test("clock jumps: set back a year right after an update, the next goes out one interval later, not a year later", () => {
    const { clock, reporter, sent, set } = setup(1000);
    reporter.stepStarted("1/3 a", true);
    clock.set(clock.now() - 365 * 86_400_000);
    set({ percent: "50" });
    reporter.stepStarted("2/3 b", false); // re-arms at the jumped-back time
    clock.advance(1000);
    expect(sent.map((x) => x.details)).toEqual([{ step: "2/3 b", percent: "50" }]);
    reporter.stop();
  });

  test("stop: no timer left, nothing sent afterwards", () => {
    const { clock, reporter, sent, set } = setup(1000);
    reporter.stepStarted("1/3 a", true);
    expect(reporter.armed).toBe(true);
    reporter.stop();
    expect(reporter.armed).toBe(false);
    set({ percent: "50" });
    clock.advance(10_000);
    reporter.stepStarted("2/3 b", false);
    clock.advance(10_000);
    expect(sent).toEqual([]);
    expect(reporter.armed).toBe(false);
  });
});
