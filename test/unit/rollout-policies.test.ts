/** The pure rules behind roll-outs, retries, abort and schedules (src/service/jobs/{rollout,failure-policy,schedule}.ts). */
import { describe, expect, test } from "bun:test";
import { abortReason, retryConfigProblem, shouldRetry } from "../../src/service/jobs/failure-policy.ts";
import { ratePerMinute } from "../../src/service/jobs/rollout.ts";
import {
  compileSchedule,
  nextCronMatch,
  nextWindowStarts,
  parseCron,
  parseScheduleTime,
  phaseAt,
} from "../../src/service/jobs/schedule.ts";

const at = (s: string) => Date.parse(`${s}Z`);
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString().slice(0, 16));

describe("roll-out rate", () => {
  test("maximumPerMinute is the rate; exponentialRate steps by the criterion; maximumPerMinute caps it", () => {
    expect(ratePerMinute({ maximumPerMinute: 7 }, { notified: 500, succeeded: 0 })).toBe(7);
    const exp = { baseRatePerMinute: 50, incrementFactor: 2, rateIncreaseCriteria: { numberOfNotifiedThings: 1000 } };
    const rates = [0, 999, 1000, 2000, 3000].map((notified) =>
      ratePerMinute({ exponentialRate: exp }, { notified, succeeded: 0 }),
    );
    expect(rates).toEqual([50, 50, 100, 200, 400]);
    expect(ratePerMinute({ exponentialRate: exp, maximumPerMinute: 150 }, { notified: 5000, succeeded: 0 })).toBe(150);
    const bySuccess = { ...exp, rateIncreaseCriteria: { numberOfSucceededThings: 10 } };
    expect(ratePerMinute({ exponentialRate: bySuccess }, { notified: 5000, succeeded: 25 })).toBe(200);
    expect(ratePerMinute(undefined, { notified: 0, succeeded: 0 })).toBe(Number.POSITIVE_INFINITY);
  });
});

describe("retries and abort", () => {
  test("FAILED retried up to its count, REJECTED never, ALL counts FAILED and TIMED_OUT together", () => {
    const failed2 = { criteriaList: [{ failureType: "FAILED" as const, numberOfRetries: 2 }] };
    expect(shouldRetry(failed2, "FAILED", ["FAILED"])).toBe(true);
    expect(shouldRetry(failed2, "FAILED", ["FAILED", "FAILED"])).toBe(true);
    expect(shouldRetry(failed2, "FAILED", ["FAILED", "FAILED", "FAILED"])).toBe(false);
    expect(shouldRetry(failed2, "TIMED_OUT", ["TIMED_OUT"])).toBe(false);
    expect(shouldRetry(failed2, "REJECTED", ["REJECTED"])).toBe(false);
    const all1 = { criteriaList: [{ failureType: "ALL" as const, numberOfRetries: 1 }] };
    expect(shouldRetry(all1, "TIMED_OUT", ["TIMED_OUT"])).toBe(true);
    expect(shouldRetry(all1, "FAILED", ["TIMED_OUT", "FAILED"])).toBe(false);
    expect(
      retryConfigProblem(
        {
          criteriaList: [
            { failureType: "FAILED", numberOfRetries: 6 },
            { failureType: "ALL", numberOfRetries: 5 },
          ],
        },
        true,
      ),
    ).toContain("11 retries");
    expect(retryConfigProblem({ criteriaList: [{ failureType: "TIMED_OUT", numberOfRetries: 1 }] }, false)).toContain(
      "timeoutConfig",
    );
  });

  test("abort: not before the minimum of executed things; at the threshold, naming the counts", () => {
    const config = {
      criteriaList: [
        {
          failureType: "ALL" as const,
          action: "CANCEL" as const,
          thresholdPercentage: 40,
          minNumberOfExecutedThings: 3,
        },
      ],
    };
    expect(abortReason(config, { FAILED: 1, REJECTED: 1 })).toBeUndefined();
    expect(abortReason(config, { FAILED: 1, SUCCEEDED: 2 })).toBeUndefined(); // 33%
    expect(abortReason(config, { FAILED: 1, TIMED_OUT: 1, SUCCEEDED: 1 })).toContain("2 of 3 executed things");
    // CANCELED and REMOVED things never ran: not executed.
    expect(abortReason(config, { FAILED: 1, SUCCEEDED: 1, CANCELED: 5 })).toBeUndefined();
  });
});

describe("schedules", () => {
  test("dates are YYYY-MM-DDTHH:MM in UTC; impossible dates are refused", () => {
    expect(parseScheduleTime("2026-03-01T12:30", "x")).toBe(at("2026-03-01T12:30"));
    expect(() => parseScheduleTime("2026-02-30T00:00", "x")).toThrow("YYYY-MM-DDTHH:MM");
    expect(() => parseScheduleTime("2026-03-01T12:30:00", "x")).toThrow("YYYY-MM-DDTHH:MM");
  });

  test("cron: weekday ranges (1 = SUN), steps, lists; L/W/#, five fields and both day fields refused", () => {
    // 2026-01-03 is a Saturday: MON-FRI at 02:30 → Monday 2026-01-05T02:30.
    expect(iso(nextCronMatch(parseCron("cron(30 2 ? * MON-FRI *)"), at("2026-01-03T10:00")))).toBe("2026-01-05T02:30");
    expect(iso(nextCronMatch(parseCron("cron(30 2 ? * 2-6 *)"), at("2026-01-03T10:00")))).toBe("2026-01-05T02:30");
    expect(iso(nextCronMatch(parseCron("cron(0/15 * * * ? *)"), at("2026-01-01T10:01")))).toBe("2026-01-01T10:15");
    expect(iso(nextCronMatch(parseCron("cron(0 8,20 1 JAN ? 2027)"), at("2026-06-01T00:00")))).toBe("2027-01-01T08:00");
    expect(() => parseCron("cron(0 0 L * ? *)")).toThrow("not supported");
    expect(() => parseCron("cron(0 0 * * ?)")).toThrow("cron(min hour day month weekday year)");
    expect(() => parseCron("cron(0 0 1 * MON *)")).toThrow("day-of-month or day-of-week");
    // EventBridge's rule: exactly one day field is `?` (`*` in both, or `?` in both, is refused).
    expect(() => parseCron("cron(0 0 * * * *)")).toThrow("day-of-month or day-of-week");
    expect(() => parseCron("cron(0 0 ? * ? *)")).toThrow("day-of-month or day-of-week");
    expect(() => parseCron("cron(0 0 * * ? *)")).not.toThrow();
    expect(() => parseCron("cron(61 0 * * ? *)")).toThrow("61 is not in 0-59");
    const never = {
      startTime: "2026-01-01T01:00",
      maintenanceWindows: [{ startTime: "cron(0 0 31 2 ? *)", durationInMinutes: 5 }],
    };
    expect(() => compileSchedule(never, at("2026-01-01T00:00"), true)).toThrow("never occurs");
  });

  test("phases: waiting before the start, open in a window, waiting between, ended at endTime", () => {
    const s = compileSchedule(
      {
        startTime: "2026-01-01T01:00",
        endTime: "2026-01-02T00:00",
        maintenanceWindows: [{ startTime: "cron(0 3 * * ? *)", durationInMinutes: 60 }],
      },
      at("2026-01-01T00:00"),
      true,
    );
    expect(phaseAt(s, at("2026-01-01T00:30"))).toEqual({ kind: "waiting", until: at("2026-01-01T01:00") });
    expect(phaseAt(s, at("2026-01-01T01:00"))).toEqual({ kind: "waiting", until: at("2026-01-01T03:00") });
    expect(phaseAt(s, at("2026-01-01T03:30"))).toEqual({ kind: "open", until: at("2026-01-01T04:00") });
    expect(phaseAt(s, at("2026-01-01T04:00"))).toEqual({ kind: "waiting", until: at("2026-01-02T00:00") });
    expect(phaseAt(s, at("2026-01-02T00:00"))).toEqual({ kind: "ended" });
    expect(nextWindowStarts(s, at("2026-01-01T00:00"), 5).map(iso)).toEqual(["2026-01-01T03:00"]);
  });
});
