/**
 * Looks a runAsUser up — uid, gid, every group, home and shell — without blocking the agent.
 *
 * NSS sources (LDAP, sssd, systemd-homed) can take tens of seconds when their server is away, and
 * a lookup in the agent's own thread (getpwnam, or a synchronous child) would freeze MQTT,
 * cancellation and SIGTERM meanwhile. So the lookup runs as child processes the event loop
 * waits for, under one deadline: `getent passwd` (glibc's, NSS included; on a musl system
 * without getent there is no NSS, and /etc/passwd is read directly) and `id -G` for the groups
 * (what initgroups would give). The tools are looked up on the agent's PATH.
 */
import { readFile } from "node:fs/promises";
import { type Clock, systemClock } from "../util/clock.ts";
import { platform } from "../platform/current.ts";
import { searchPath } from "./handler-path.ts";

export interface UserInfo {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  /** Every group of the user, the primary one included (initgroups). */
  readonly groups: readonly number[];
  readonly home: string;
  readonly shell: string;
}

/** How long one user lookup may take before the step fails (an NSS server that does not answer). */
export const USER_LOOKUP_TIMEOUT_MS = 15_000;

export interface LookupOptions {
  readonly pathEnv: string;
  readonly signal?: AbortSignal;
  readonly clock?: Clock;
  readonly timeoutMs?: number;
}

/** A lookup that could not finish (timeout, canceled, a tool failing oddly): the step fails with it. */
export class UserLookupError extends Error {}

/** undefined: no such user. Throws UserLookupError when the answer cannot be had in time. */
export async function lookupUser(name: string, options: LookupOptions): Promise<UserInfo | undefined> {
  const clock = options.clock ?? systemClock;
  const timeoutMs = options.timeoutMs ?? USER_LOOKUP_TIMEOUT_MS;
  const deadline = new AbortController();
  const timer = clock.setTimeout(() => deadline.abort("timeout"), timeoutMs);
  const onAbort = () => deadline.abort("canceled");
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const entry = await passwdEntry(name, options.pathEnv, deadline.signal);
    if (!entry) return undefined;
    const id = searchPath("id", options.pathEnv);
    const groupsOut = id ? await run([id, "-G", "--", name], deadline.signal) : undefined;
    // Without `id` (a minimal image), the supplementary groups come from /etc/group itself, as the
    // passwd entry comes from /etc/passwd without getent: never silently fewer groups.
    const groups =
      groupsOut?.code === 0
        ? groupsOut.stdout.trim().split(/\s+/).map(Number).filter(Number.isInteger)
        : id
          ? []
          : groupsFromFile(await readFile("/etc/group", { encoding: "utf8", signal: deadline.signal }), name);
    return { ...entry, groups: groups.includes(entry.gid) ? groups : [entry.gid, ...groups] };
  } catch (error) {
    if (deadline.signal.aborted) {
      const why =
        deadline.signal.reason === "timeout"
          ? `took longer than ${timeoutMs / 1000} s (a slow user database: NSS, LDAP?)`
          : "was canceled";
      throw new UserLookupError(`Looking up user ${JSON.stringify(name)} ${why}`);
    }
    throw new UserLookupError(`Looking up user ${JSON.stringify(name)} failed: ${(error as Error).message}`);
  } finally {
    timer.cancel();
    options.signal?.removeEventListener("abort", onAbort);
  }
}

type PasswdEntry = Omit<UserInfo, "groups">;

async function passwdEntry(name: string, pathEnv: string, signal: AbortSignal): Promise<PasswdEntry | undefined> {
  const getent = searchPath("getent", pathEnv);
  if (!getent) {
    const text = await readFile("/etc/passwd", { encoding: "utf8", signal });
    return text
      .split("\n")
      .map(parsePasswdLine)
      .find((e) => e?.name === name);
  }
  const out = await run([getent, "passwd", "--", name], signal);
  if (out.code === 2) return undefined; // "key not found"
  if (out.code !== 0) throw new Error(`getent exited with status ${out.code}`);
  const entry = parsePasswdLine(out.stdout.split("\n")[0] ?? "");
  return entry?.name === name ? entry : undefined;
}

/** The gids of /etc/group lines (name:password:gid:member,member) that list `user` as a member. */
export function groupsFromFile(text: string, user: string): number[] {
  const gids: number[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(":");
    const gid = Number(f[2]);
    if (f.length >= 4 && f[2] !== "" && Number.isInteger(gid) && f[3]!.split(",").includes(user)) gids.push(gid);
  }
  return gids;
}

/** name:password:uid:gid:gecos:home:shell */
export function parsePasswdLine(line: string): PasswdEntry | undefined {
  const f = line.split(":");
  if (f.length < 7) return undefined;
  const uid = Number(f[2]);
  const gid = Number(f[3]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid) || f[2] === "" || f[3] === "") return undefined;
  return { name: f[0]!, uid, gid, home: f[5] || "/", shell: f.slice(6).join(":") || "/bin/sh" };
}

async function run(argv: string[], signal: AbortSignal): Promise<{ code: number; stdout: string }> {
  signal.throwIfAborted();
  const chunks: Uint8Array[] = [];
  const discard = { push: () => {}, end: () => {} };
  // Its own process group, so a timeout takes down whatever the tool started too.
  const proc = platform.spawnPiped({
    argv,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C" },
    stdout: { push: (chunk) => void chunks.push(chunk.slice()), end: () => {} },
    stderr: discard,
  });
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      try {
        process.kill(-proc.pid, "SIGKILL");
      } catch {
        // already gone
      }
      reject(new Error("aborted"));
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
  aborted.catch(() => {});
  try {
    const answer = (async () => {
      await proc.started;
      const [exit] = await Promise.all([proc.exited, proc.outputDone]);
      return { code: exit.exitCode ?? -1, stdout: Buffer.concat(chunks).toString() };
    })();
    return await Promise.race([answer, aborted]);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
