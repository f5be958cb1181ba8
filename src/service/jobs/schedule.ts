/**
 * schedulingConfig as pure time arithmetic: the `YYYY-MM-DDTHH:MM` dates (UTC), AWS's six-field
 * cron expressions of maintenance windows, and the phase a scheduled job is in at a given time.
 *
 * Phases: before `startTime` the job waits (SCHEDULED); after it, without maintenance windows,
 * it rolls out (IN_PROGRESS) until `endTime`; with windows it rolls out only while one is open
 * (a window opens at each cron match at or after startTime and lasts `durationInMinutes`) and
 * waits (SCHEDULED) between them; at `endTime` the end behaviour applies.
 *
 * Cron: `cron(minutes hours day-of-month month day-of-week year)` as AWS (EventBridge) writes it:
 * `*`, `?`, numbers, lists, ranges and `/` steps; months 1-12 or JAN-DEC, days of week 1-7
 * (1 = Sunday) or SUN-SAT. `L`, `W` and `#` are refused by name rather than misread.
 */
import { ServiceError } from "../errors.ts";

export interface MaintenanceWindow {
  readonly startTime: string;
  readonly durationInMinutes: number;
}

export interface SchedulingConfig {
  readonly startTime?: string;
  readonly endTime?: string;
  readonly endBehavior?: "STOP_ROLLOUT" | "CANCEL" | "FORCE_CANCEL";
  readonly maintenanceWindows?: readonly MaintenanceWindow[];
}

export type Phase =
  | { readonly kind: "waiting"; readonly until: number }
  | { readonly kind: "open"; readonly until: number }
  | { readonly kind: "ended" };

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
/** How far ahead window starts are searched (endTime is at most two years ahead). */
const HORIZON_DAYS = 2 * 366 + 1;

const invalid = (message: string) => new ServiceError("InvalidRequest", message);

/** `YYYY-MM-DDTHH:MM` (UTC) → epoch ms; throws naming the member. */
export function parseScheduleTime(value: string, member: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(value);
  const ms = m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!) : Number.NaN;
  if (!m || Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 16) !== value)
    throw invalid(`${member} ${JSON.stringify(value)} must be a UTC date and time written YYYY-MM-DDTHH:MM`);
  return ms;
}

export const formatScheduleTime = (ms: number) => new Date(ms).toISOString().slice(0, 16);

interface Cron {
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly days: ReadonlySet<number> | undefined;
  readonly months: ReadonlySet<number>;
  readonly weekdays: ReadonlySet<number> | undefined;
  readonly years: ReadonlySet<number> | undefined;
}

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const WEEKDAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

function field(text: string, what: string, min: number, max: number, names?: string[]): Set<number> | undefined {
  if (text === "*" || text === "?") return undefined;
  if (/[LW#]/.test(text))
    throw invalid(`${what} ${JSON.stringify(text)}: L, W and # are not supported by iot-jobs-local`);
  const value = (s: string) => {
    const named = names?.indexOf(s.toUpperCase()) ?? -1;
    const n = named >= 0 ? named + min : /^\d+$/.test(s) ? Number(s) : Number.NaN;
    if (!(n >= min && n <= max)) throw invalid(`${what} ${JSON.stringify(text)}: ${s} is not in ${min}-${max}`);
    return n;
  };
  const out = new Set<number>();
  for (const part of text.split(",")) {
    const [range, stepText] = part.split("/");
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw invalid(`${what} ${JSON.stringify(text)}: bad step`);
    let from: number;
    let to: number;
    if (range === "*") [from, to] = [min, max];
    else if (range!.includes("-")) {
      const [a, b] = range!.split("-");
      [from, to] = [value(a!), value(b!)];
    } else {
      from = value(range!);
      to = stepText === undefined ? from : max;
    }
    for (let n = from; n <= to; n += step) out.add(n);
  }
  return out;
}

/** A maintenance window's `cron(…)` expression; throws InvalidRequest naming what is wrong. */
export function parseCron(expression: string): Cron {
  const m = /^cron\((.*)\)$/.exec(expression.trim());
  const parts = m?.[1]?.trim().split(/\s+/);
  if (!parts || parts.length !== 6)
    throw invalid(
      `maintenanceWindows startTime ${JSON.stringify(expression)} must be cron(min hour day month weekday year)`,
    );
  const what = "maintenanceWindows startTime";
  const cron: Cron = {
    minutes: field(parts[0]!, what, 0, 59) ?? range(0, 59),
    hours: field(parts[1]!, what, 0, 23) ?? range(0, 23),
    days: field(parts[2]!, what, 1, 31),
    months: field(parts[3]!, what, 1, 12, MONTHS) ?? range(1, 12),
    weekdays: field(parts[4]!, what, 1, 7, WEEKDAYS),
    years: field(parts[5]!, what, 1970, 2199),
  };
  // EventBridge's rule (AWS's cron syntax): exactly one of the two day fields is `?`. `*` in both,
  // or `?` in both, is refused there, so it is refused here (AWS IoT's own pages do not say).
  const dayPart = parts[2]!;
  const weekdayPart = parts[4]!;
  if ((dayPart === "?") === (weekdayPart === "?") || (cron.days && cron.weekdays))
    throw invalid(`${what} ${JSON.stringify(expression)}: give day-of-month or day-of-week, the other ?`);
  return cron;
}

const range = (a: number, b: number) => new Set(Array.from({ length: b - a + 1 }, (_, i) => a + i));
const sorted = (s: ReadonlySet<number>) => [...s].sort((a, b) => a - b);

/** The first cron match at or after `fromMs` (minute precision), within the horizon. */
export function nextCronMatch(cron: Cron, fromMs: number): number | undefined {
  const start = Math.ceil(fromMs / MINUTE) * MINUTE;
  const firstDay = Math.floor(start / DAY) * DAY;
  const hours = sorted(cron.hours);
  const minutes = sorted(cron.minutes);
  for (let d = 0; d < HORIZON_DAYS; d++) {
    const day = firstDay + d * DAY;
    const date = new Date(day);
    if (cron.years && !cron.years.has(date.getUTCFullYear())) continue;
    if (!cron.months.has(date.getUTCMonth() + 1)) continue;
    if (cron.days && !cron.days.has(date.getUTCDate())) continue;
    if (cron.weekdays && !cron.weekdays.has(date.getUTCDay() + 1)) continue;
    for (const h of hours) {
      for (const min of minutes) {
        const t = day + h * 60 * MINUTE + min * MINUTE;
        if (t >= start) return t;
      }
    }
  }
  return undefined;
}

/** The schedule in epoch ms, checked against AWS's rules at creation time `nowMs`. */
export interface Schedule {
  readonly start: number;
  readonly end?: number;
  readonly windows: readonly { readonly cron: Cron; readonly durationMs: number }[];
}

export function compileSchedule(config: SchedulingConfig, nowMs: number, checkLimits: boolean): Schedule {
  const start =
    config.startTime === undefined ? nowMs : parseScheduleTime(config.startTime, "schedulingConfig.startTime");
  const end = config.endTime === undefined ? undefined : parseScheduleTime(config.endTime, "schedulingConfig.endTime");
  if (checkLimits) {
    if (config.startTime !== undefined && start < nowMs + 30 * MINUTE)
      throw invalid("schedulingConfig.startTime must be at least 30 minutes from now");
    if (start > nowMs + 366 * DAY) throw invalid("schedulingConfig.startTime must be at most one year from now");
    if (end !== undefined && end < start + 30 * MINUTE)
      throw invalid("schedulingConfig.endTime must be at least 30 minutes after startTime");
    if (end !== undefined && end > nowMs + 2 * 366 * DAY)
      throw invalid("schedulingConfig.endTime must be at most two years from now");
  }
  const windows = (config.maintenanceWindows ?? []).map((w) => {
    const cron = parseCron(w.startTime);
    if (checkLimits && nextCronMatch(cron, start) === undefined)
      throw invalid(`maintenanceWindows startTime ${JSON.stringify(w.startTime)} never occurs in the next two years`);
    return { cron, durationMs: w.durationInMinutes * MINUTE };
  });
  return { start, ...(end !== undefined ? { end } : {}), windows };
}

/** Where a scheduled job stands at `nowMs`, and until when. */
export function phaseAt(schedule: Schedule, nowMs: number): Phase {
  const end = schedule.end ?? Number.POSITIVE_INFINITY;
  if (nowMs >= end) return { kind: "ended" };
  if (nowMs < schedule.start) return { kind: "waiting", until: schedule.start };
  if (schedule.windows.length === 0) return { kind: "open", until: end };
  let openUntil: number | undefined;
  let nextOpen = Number.POSITIVE_INFINITY;
  for (const w of schedule.windows) {
    // A window still open began within its duration before now (and not before the start).
    const began = nextCronMatch(w.cron, Math.max(schedule.start, nowMs - w.durationMs + 1));
    if (began === undefined) continue;
    if (began <= nowMs) openUntil = Math.max(openUntil ?? 0, began + w.durationMs);
    else nextOpen = Math.min(nextOpen, began);
  }
  if (openUntil !== undefined) return { kind: "open", until: Math.min(openUntil, end) };
  return { kind: "waiting", until: Math.min(nextOpen, end) };
}

/** The next `count` window starts after `nowMs` (Job.scheduledJobRollouts). */
export function nextWindowStarts(schedule: Schedule, nowMs: number, count: number): number[] {
  const out: number[] = [];
  let from = Math.max(nowMs, schedule.start);
  const end = schedule.end ?? Number.POSITIVE_INFINITY;
  while (out.length < count) {
    let next = Number.POSITIVE_INFINITY;
    for (const w of schedule.windows) next = Math.min(next, nextCronMatch(w.cron, from) ?? Number.POSITIVE_INFINITY);
    if (next === Number.POSITIVE_INFINITY || next >= end) break;
    out.push(next);
    from = next + MINUTE;
  }
  return out;
}
