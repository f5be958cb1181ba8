/**
 * How a step runs as another user [DC-JOBS-runAsUser]: through `sudo -u USER -n` when sudo is
 * installed, or, when the agent is root and sudo is absent, through the agent's own `__run-as`
 * mode (drop-privileges.ts) with the user's groups, gid and uid and the HOME, USER, LOGNAME and
 * SHELL sudo would set. It never silently runs as a different user than the one asked for.
 *
 * runAsUser is a user *name*: an all-digit value is refused, because sudo (and so the Device
 * Client) refuses it while a uid lookup would accept it — one document, two outcomes per image.
 */
import { platform } from "../platform/current.ts";
import { searchPath } from "./handler-path.ts";
import { UserLookupError, type UserInfo } from "./user-lookup.ts";

export type ExecutionPlan =
  | { readonly ok: true; readonly argv: readonly string[]; readonly env?: Readonly<Record<string, string>> }
  | { readonly ok: false; readonly reason: string };

export interface RunAsContext {
  readonly euid: number;
  readonly pathEnv: string;
  /** Looks a user up (NSS included) without blocking; undefined when unknown; throws when it cannot tell. */
  readonly lookupUser: (name: string, signal?: AbortSignal) => Promise<UserInfo | undefined>;
}

/** POSIX-portable user names; also keeps a name from ever being read as an option. */
const USER_NAME = /^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,31}\$?$/;
const NUMERIC = /^[0-9]+$/;

/** Checks the user exists; the reason when it does not (or cannot be told in time). */
export async function checkUser(
  runAsUser: string,
  ctx: RunAsContext,
  signal?: AbortSignal,
): Promise<{ ok: true; user: UserInfo } | { ok: false; reason: string }> {
  if (NUMERIC.test(runAsUser))
    return {
      ok: false,
      reason: `runAsUser ${JSON.stringify(runAsUser)} is a number; give the user's name (sudo takes names)`,
    };
  if (!USER_NAME.test(runAsUser))
    return { ok: false, reason: `runAsUser ${JSON.stringify(runAsUser)} is not a valid user name` };
  let user: UserInfo | undefined;
  try {
    user = await ctx.lookupUser(runAsUser, signal);
  } catch (error) {
    if (error instanceof UserLookupError) return { ok: false, reason: error.message };
    throw error;
  }
  return user ? { ok: true, user } : { ok: false, reason: `runAsUser ${JSON.stringify(runAsUser)}: no such user` };
}

export async function planExecution(
  argv: readonly string[],
  runAsUser: string | undefined,
  ctx: RunAsContext,
  signal?: AbortSignal,
): Promise<ExecutionPlan> {
  if (runAsUser === undefined) return { ok: true, argv };
  const checked = await checkUser(runAsUser, ctx, signal);
  if (!checked.ok) return checked;
  const user = checked.user;
  if (user.uid === ctx.euid) return { ok: true, argv };
  const sudo = searchPath("sudo", ctx.pathEnv);
  if (sudo) return { ok: true, argv: [sudo, "-u", runAsUser, "-n", "--", ...argv] };
  if (ctx.euid === 0) {
    const plan = platform.runAsArgv(user, argv, ctx.pathEnv);
    if (!plan.ok) return { ok: false, reason: `Cannot run as ${runAsUser}: ${plan.reason}` };
    return {
      ok: true,
      argv: plan.argv,
      env: { HOME: user.home, USER: user.name, LOGNAME: user.name, SHELL: user.shell },
    };
  }
  return { ok: false, reason: `Cannot run as ${runAsUser}: sudo is not installed and the agent is not root` };
}
