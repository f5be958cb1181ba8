/**
 * Steps left behind by an agent that died (SIGKILL, OOM, power cut of the agent alone): each step
 * runs in its own session and process group, so it outlives the agent. Before running anything
 * again, the restarted agent kills what is left of the group it recorded — otherwise the re-run of
 * the same execution would run concurrently with its orphan.
 *
 * PID reuse: the recorded leader is identified by the boot it ran in (boot_id), its pid *and* its
 * start time (/proc/PID/stat field 22); other members are taken only if they are in that session
 * and group and started no earlier. Start times count clock ticks since boot, so they mean nothing
 * across a reboot — and a reboot (or power cut) has already killed the old step: a record from
 * another boot, or without a boot id, is never acted on.
 */
import { readdirSync, readFileSync } from "node:fs";

export interface RecordedStep {
  readonly pid: number;
  /** Clock ticks after boot, from /proc/PID/stat. */
  readonly startTime: number;
  /** The kernel's id of the boot the step ran in (/proc/sys/kernel/random/boot_id). */
  readonly bootId?: string;
}

export const BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id";

/**
 * This boot's id, or undefined when the kernel does not say. `file` is a seam for tests, and
 * IOT_JOBS_BOOT_ID_FILE lets process-level tests (the scenario fuzzer's "reboots") stand in for it.
 */
export function currentBootId(file = process.env.IOT_JOBS_BOOT_ID_FILE || BOOT_ID_FILE): string | undefined {
  try {
    const id = readFileSync(file, "utf8").trim();
    return id === "" ? undefined : id;
  } catch {
    return undefined;
  }
}

interface ProcStat {
  readonly pid: number;
  readonly pgrp: number;
  readonly session: number;
  readonly startTime: number;
}

export function procStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    // fields[0] is field 3 (state); pgrp = field 5, session = field 6, starttime = field 22.
    if (fields[0] === "Z") return undefined;
    return { pid, pgrp: Number(fields[2]), session: Number(fields[3]), startTime: Number(fields[19]) };
  } catch {
    return undefined;
  }
}

export function describeStep(pid: number, bootId = currentBootId()): RecordedStep | undefined {
  const s = procStat(pid);
  return s ? { pid, startTime: s.startTime, ...(bootId ? { bootId } : {}) } : undefined;
}

/**
 * Kills the recorded step's process group if any of it survives in this boot; returns the pids it
 * killed (none when the record is from another boot or carries no boot id).
 */
export function killOrphanedStep(step: RecordedStep, bootId = currentBootId()): number[] {
  if (step.bootId === undefined || bootId === undefined || step.bootId !== bootId) return [];
  // The leader's pid alive as another process (another start time): Linux never hands out a pid
  // still in use as a process group or session id, so nothing of the old step is left, and what
  // now has that session id is someone else's (a new `setsid` of the same pid).
  const leader = procStat(step.pid);
  if (leader && leader.startTime !== step.startTime) return [];
  const members: number[] = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const s = procStat(pid);
    if (!s || s.pgrp !== step.pid || s.session !== step.pid) continue;
    if (pid === step.pid ? s.startTime !== step.startTime : s.startTime < step.startTime) continue;
    members.push(pid);
  }
  for (const pid of members) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  return members;
}

/**
 * Resolves true once none of `pids` is alive (gone, or a zombie: its files, and so its locks, are
 * closed), false after `timeoutMs`. SIGKILL is not instant: a killed process exits when it next
 * runs, which on a loaded board can be after the agent's re-run has started — and that re-run would
 * find the old step still holding what it holds (found by the scenario fuzzer: a re-run's lock).
 */
export async function untilGone(pids: readonly number[], timeoutMs: number): Promise<boolean> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    if (pids.every((pid) => procStat(pid) === undefined)) return true;
    if (performance.now() >= until) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
