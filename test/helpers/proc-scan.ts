/**
 * What is alive, from /proc: members of a session (a step runs as its own session leader, so the
 * session id is the step's first pid), for "no process of a finished step is alive".
 */
import { readdirSync, readFileSync } from "node:fs";

interface Stat {
  readonly pid: number;
  readonly state: string;
  readonly session: number;
  readonly startTime: number;
}

function stat(pid: number): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { pid, state: f[0]!, session: Number(f[3]), startTime: Number(f[19]) };
  } catch {
    return undefined;
  }
}

/** Live (not zombie) pids whose session is `sid`. */
export function sessionMembers(sid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const s = stat(pid);
    if (s && s.session === sid && s.state !== "Z") out.push(pid);
  }
  return out;
}

/** SIGKILLs every live member of session `sid` (a "reboot" of what a step started). */
export function killSession(sid: number): void {
  for (const pid of sessionMembers(sid)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone already
    }
  }
}

/** The start time (clock ticks after boot) of a live process, as /proc/PID/stat field 22 says. */
export function startTimeOf(pid: number): number | undefined {
  return stat(pid)?.startTime;
}

/** The command line of a live process, its arguments joined by spaces. */
export function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return undefined;
  }
}

/** Sessions of live processes whose command line contains `text` (e.g. a scenario's own directory). */
export function sessionsWithCommandLine(text: string): number[] {
  const sessions = new Set<number>();
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    if (commandLine(pid)?.includes(text)) {
      const s = stat(pid);
      if (s && s.state !== "Z") sessions.add(s.session);
    }
  }
  return [...sessions];
}
