/**
 * Steps left behind by an agent that died (SIGKILL, OOM, power cut of the agent alone): each step
 * runs in its own session and process group, so it outlives the agent. Before running anything
 * again, the restarted agent kills what is left of the group it recorded — otherwise the re-run of
 * the same execution would run concurrently with its orphan.
 *
 * PID reuse: the recorded leader is identified by pid *and* start time (/proc/PID/stat field 22);
 * other members are taken only if they are in that session and group and started no earlier.
 */
import { readdirSync, readFileSync } from "node:fs";

export interface RecordedStep {
  readonly pid: number;
  /** Clock ticks after boot, from /proc/PID/stat. */
  readonly startTime: number;
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

export function describeStep(pid: number): RecordedStep | undefined {
  const s = procStat(pid);
  return s ? { pid, startTime: s.startTime } : undefined;
}

/** Kills the recorded step's process group if any of it survives; returns the pids it killed. */
export function killOrphanedStep(step: RecordedStep): number[] {
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
