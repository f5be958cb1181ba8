/**
 * How a step runs as another user [DC-JOBS-runAsUser]: through `sudo -u USER -n` when sudo is
 * installed, or with the user's uid/gid when the agent is root and sudo is absent. It never
 * silently runs as a different user than the one asked for.
 */
import { searchPath } from "./handler-path.ts";

export type ExecutionPlan =
  | { readonly ok: true; readonly argv: readonly string[]; readonly uid?: number; readonly gid?: number }
  | { readonly ok: false; readonly reason: string };

export interface UserInfo {
  readonly uid: number;
  readonly gid: number;
}

export interface RunAsContext {
  readonly euid: number;
  readonly pathEnv: string;
  /** Looks a user up (NSS included); undefined when unknown. */
  readonly lookupUser: (name: string) => UserInfo | undefined;
}

/** POSIX-portable user names; also keeps a name from ever being read as an option. */
const USER_NAME = /^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,31}\$?$/;

export function planExecution(argv: readonly string[], runAsUser: string | undefined, ctx: RunAsContext): ExecutionPlan {
  if (runAsUser === undefined) return { ok: true, argv };
  if (!USER_NAME.test(runAsUser)) return { ok: false, reason: `runAsUser ${JSON.stringify(runAsUser)} is not a valid user name` };
  const user = ctx.lookupUser(runAsUser);
  if (!user) return { ok: false, reason: `runAsUser ${JSON.stringify(runAsUser)}: no such user` };
  if (user.uid === ctx.euid) return { ok: true, argv };
  const sudo = searchPath("sudo", ctx.pathEnv);
  if (sudo) return { ok: true, argv: [sudo, "-u", runAsUser, "-n", "--", ...argv] };
  if (ctx.euid === 0) return { ok: true, argv, uid: user.uid, gid: user.gid };
  return { ok: false, reason: `Cannot run as ${runAsUser}: sudo is not installed and the agent is not root` };
}

/** Looks a user up through `id`, so NSS sources (LDAP, systemd-homed) count as well as /etc/passwd. */
export function lookupUserWithId(name: string): UserInfo | undefined {
  const run = (flag: string) => {
    const r = Bun.spawnSync(["id", flag, "--", name], { stdout: "pipe", stderr: "ignore" });
    return r.exitCode === 0 ? Number.parseInt(r.stdout.toString().trim(), 10) : Number.NaN;
  };
  const uid = run("-u");
  if (Number.isNaN(uid)) return undefined;
  const gid = run("-g");
  return Number.isNaN(gid) ? undefined : { uid, gid };
}
