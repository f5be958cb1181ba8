/**
 * Running a step as another user when the agent is root and sudo is absent (minimal Yocto and
 * Buildroot images): the user's groups, gid and uid, as initgroups + setgid + setuid give.
 *
 * Bun.spawn can set a uid and gid but not supplementary groups (a "pi" step lost gpio, video,
 * dialout), and nothing can run between its fork and exec. So the step is started through the
 * agent's own executable in a small mode, `iot-jobs-agent __run-as UID GID GROUPS -- ARGV...`,
 * which calls setgroups, setgid and setuid from libc (bun:ffi), checks they took, resets signal
 * dispositions and the signal mask, and execve()s the step in place: same pid, same process
 * group and session, same pipes. It never falls back to running as root: any failure exits 126.
 */
import { dlopen, FFIType, ptr, read, type Pointer } from "bun:ffi";
import { join } from "node:path";
import { type Identity, RUN_AS_COMMAND } from "../platform/platform.ts";
import { searchPath } from "./handler-path.ts";

export { RUN_AS_COMMAND };

/** Exit status when the identity cannot be taken (nothing ran); 127 when the program cannot be started. */
export const RUN_AS_FAILED = 126;
export const RUN_AS_NOT_FOUND = 127;

/**
 * How to start this agent again: the compiled executable itself, or (from source) the runtime
 * and src/main.ts.
 */
export function selfCommand(): string[] {
  const compiled = import.meta.dir.startsWith("/$bunfs") || import.meta.dir.includes("~BUN");
  return compiled ? [process.execPath] : [process.execPath, join(import.meta.dir, "..", "main.ts")];
}

export type { Identity };

/** The argv that runs `argv` as `who`. */
export function runAsArgv(who: Identity, argv: readonly string[]): string[] {
  return [...selfCommand(), RUN_AS_COMMAND, String(who.uid), String(who.gid), who.groups.join(","), "--", ...argv];
}

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  8: "ENOEXEC",
  13: "EACCES",
  20: "ENOTDIR",
  22: "EINVAL",
  36: "ENAMETOOLONG",
  40: "ELOOP",
};
const ENOEXEC = 8;
const SIG_SETMASK = 2;

/** The `__run-as` mode: returns an exit status only when it could not exec. */
export function runAsMain(args: readonly string[], stderr: (line: string) => void): number {
  const fail = (status: number, message: string) => (stderr(`iot-jobs-agent: ${message}`), status);
  const [uidText, gidText, groupsText, separator, ...argv] = args;
  const uid = Number(uidText);
  const gid = Number(gidText);
  const groups = (groupsText ?? "")
    .split(",")
    .filter((g) => g !== "")
    .map(Number);
  if (separator !== "--" || argv.length === 0 || !isId(uid) || !isId(gid) || !groups.every(isId))
    return fail(RUN_AS_FAILED, `${RUN_AS_COMMAND}: bad arguments`);

  let libc: ReturnType<typeof loadLibc>;
  try {
    libc = loadLibc();
  } catch (error) {
    return fail(RUN_AS_FAILED, `cannot load libc to change user: ${(error as Error).message}`);
  }
  const c = libc.symbols;
  const errno = () => read.i32(c.__errno_location() as Pointer, 0);
  const list = new Uint32Array(groups.length || 1);
  list.set(groups);
  // Order matters: groups and gid need root, so they go before the uid.
  if (c.setgroups(groups.length, list) !== 0) return fail(RUN_AS_FAILED, `setgroups failed (errno ${errno()})`);
  if (c.setgid(gid) !== 0) return fail(RUN_AS_FAILED, `setgid(${gid}) failed (errno ${errno()})`);
  if (c.setuid(uid) !== 0) return fail(RUN_AS_FAILED, `setuid(${uid}) failed (errno ${errno()})`);
  if (c.getuid() !== uid || c.geteuid() !== uid || c.getgid() !== gid || c.getegid() !== gid)
    return fail(RUN_AS_FAILED, "the new identity did not take");
  if (uid !== 0 && c.setuid(0) === 0) return fail(RUN_AS_FAILED, "root could be regained after setuid");

  // What the runtime set up for itself must not reach the step: default dispositions, no mask.
  for (let signal = 1; signal < 32; signal++) if (signal !== 9 && signal !== 19) c.signal(signal, null);
  c.sigprocmask(SIG_SETMASK, new Uint8Array(128), null);

  const env = Object.entries(process.env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
  const program = argv[0]!.includes("/") ? argv[0]! : searchPath(argv[0]!, process.env.PATH ?? "/usr/bin:/bin");
  if (!program) return fail(RUN_AS_NOT_FOUND, `Could not start ${JSON.stringify(argv[0])}: ENOENT`);
  // Held in variables until after the calls: the pointers must not outlive their buffers.
  const envp = cStringArray(env);
  const path = cString(program);
  const argvp = cStringArray(argv);
  c.execve(path, argvp.array, envp.array);
  let code = errno();
  if (code === ENOEXEC) {
    // No #! and not ELF: through /bin/sh, as execvp does.
    const sh = cString("/bin/sh");
    const shArgv = cStringArray(["/bin/sh", program, ...argv.slice(1)]);
    c.execve(sh, shArgv.array, envp.array);
    code = errno();
    keepAlive(sh, shArgv);
  }
  keepAlive(path, argvp, envp);
  return fail(RUN_AS_NOT_FOUND, `Could not start ${JSON.stringify(argv[0])}: ${ERRNO_NAMES[code] ?? `errno ${code}`}`);
}

function keepAlive(..._values: unknown[]): void {}

function isId(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n < 2 ** 32 - 1;
}

function loadLibc() {
  // "libc.so.6" is glibc's name; musl's loader maps any libc.so* name to itself.
  return dlopen("libc.so.6", {
    setgroups: { args: [FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
    setgid: { args: [FFIType.u32], returns: FFIType.i32 },
    setuid: { args: [FFIType.u32], returns: FFIType.i32 },
    getuid: { args: [], returns: FFIType.u32 },
    geteuid: { args: [], returns: FFIType.u32 },
    getgid: { args: [], returns: FFIType.u32 },
    getegid: { args: [], returns: FFIType.u32 },
    signal: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.ptr },
    sigprocmask: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    execve: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
  });
}

function cString(text: string): Buffer {
  return Buffer.from(`${text}\0`);
}

/** A NULL-terminated char*[]; `keep` holds the strings so they outlive the call. */
function cStringArray(items: readonly string[]): { array: BigUint64Array; keep: Buffer[] } {
  const keep = items.map(cString);
  const array = new BigUint64Array(items.length + 1);
  for (const [i, b] of keep.entries()) array[i] = BigInt(ptr(b));
  return { array, keep };
}
