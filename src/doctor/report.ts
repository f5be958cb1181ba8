/**
 * `doctor`'s result lines: one per check, with the fix when something is wrong. Checks never
 * throw; a check that cannot run (its prerequisite failed) says so and is skipped.
 */
export type Verdict = "ok" | "warn" | "fail" | "skip";

export interface CheckLine {
  readonly verdict: Verdict;
  /** Short, stable name scripts can grep for: "certificate", "mqtt-connect", … */
  readonly check: string;
  readonly detail: string;
  /** What to do, when the verdict is warn or fail. */
  readonly fix?: string;
}

export const ok = (check: string, detail: string): CheckLine => ({ verdict: "ok", check, detail });
export const warn = (check: string, detail: string, fix?: string): CheckLine => ({
  verdict: "warn",
  check,
  detail,
  fix,
});
export const fail = (check: string, detail: string, fix?: string): CheckLine => ({
  verdict: "fail",
  check,
  detail,
  fix,
});
export const skip = (check: string, detail: string): CheckLine => ({ verdict: "skip", check, detail });

const LABEL: Record<Verdict, string> = { ok: "ok  ", warn: "WARN", fail: "FAIL", skip: "skip" };

export function formatLine(line: CheckLine): string {
  const fix = line.fix ? `\n       fix: ${line.fix}` : "";
  return `${LABEL[line.verdict]}  ${line.check.padEnd(16)} ${line.detail}${fix}`;
}

/** 0 when nothing failed (warnings allowed), 1 otherwise: for scripts. */
export function exitCode(lines: readonly CheckLine[]): number {
  return lines.some((l) => l.verdict === "fail") ? 1 : 0;
}
