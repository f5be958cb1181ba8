/**
 * Finds the executable for a runHandler step and checks that it may run [DC-JOBS-handler-dir].
 *
 * A handler from a directory (`"path": "default"`, an explicit directory, or no path when the
 * handler directory holds that name) must have a plain file name, resolve inside the directory
 * (no symlink out), have a single link, be owned by the agent's user or root, and neither the
 * directory nor the file may grant any permission to group or others (700, or stricter).
 * Without a path and not in the handler directory, the name is looked up on PATH, as execvp does,
 * then in the directories the Device Client appends to its PATH at start-up (`~/.aws-iot-device-client`,
 * `~/.aws-iot-device-client/jobs`, the working directory and its `jobs`): that is how an AWS managed
 * template's document (`"path": ""`) finds `download-file.sh`. A handler found there passes the same
 * checks as one from the handler directory — those directories are not trusted just for being named.
 *
 * Check and exec use the same directory: once the path checks pass, the handler directory is
 * opened and the opened directory is checked again (same inode, owner, 700). Renaming a parent
 * directory is the only way someone without the directory owner's rights could swap the handler;
 * when every ancestor is owned by root or the agent's user and writable by nobody else (or sticky,
 * like /tmp, with our entry in it), nobody else can, and the step executes the real path, so "$0"
 * is a path a handler can record or hand on. Otherwise it executes /proc/<agent>/fd/<dir>/<name>:
 * what runs is what was checked, `$(dirname "$0")` still finds the siblings (_common.sh), but "$0"
 * is only valid during the step. Handlers always start as the agent's own user (runAsUser is
 * their $1), who may open that path. The descriptor is released when the step ends.
 */
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readSync,
  realpathSync,
  statSync,
  type Stats,
} from "node:fs";
import { basename, delimiter, dirname, join, sep } from "node:path";

export type ResolvedHandler =
  | {
      readonly ok: true;
      readonly file: string;
      /** What to execute: the checked, opened file (or `file` for a PATH lookup). */
      readonly execPath: string;
      /** no `#!` and not ELF: run through /bin/sh, as execvp does */
      readonly viaShell: boolean;
      /** Closes the descriptor behind execPath; call when the step has ended. */
      release(): void;
    }
  | { readonly ok: false; readonly reason: string };

/** O_PATH (Linux, same value on x86-64 and arm64): a handle for lookups and fstat, nothing else. */
const O_PATH = 0o10000000;

export interface HandlerLookup {
  readonly handlerDirectory: string;
  readonly euid: number;
  readonly pathEnv: string;
  /** The Device Client's PATH additions, searched after PATH with the directory checks (run-context.ts). */
  readonly deviceClientDirs?: readonly string[];
}

export function resolveHandler(handler: string, path: string | undefined, lookup: HandlerLookup): ResolvedHandler {
  if (!isPlainName(handler))
    return {
      ok: false,
      reason: `Handler name ${JSON.stringify(handler)} must be a plain file name (no "/", not "." or "..")`,
    };

  if (path === undefined) {
    const inDirectory = join(lookup.handlerDirectory, handler);
    if (exists(inDirectory)) return checkedHandler(lookup.handlerDirectory, handler, lookup.euid);
    const onPath = searchPath(handler, lookup.pathEnv);
    if (!onPath) {
      for (const dir of lookup.deviceClientDirs ?? []) {
        if (exists(join(dir, handler))) return checkedHandler(dir, handler, lookup.euid);
      }
      const also = lookup.deviceClientDirs?.length
        ? `, on PATH or in ${lookup.deviceClientDirs.join(", ")}`
        : " or on PATH";
      return { ok: false, reason: `Handler ${JSON.stringify(handler)} not found in ${lookup.handlerDirectory}${also}` };
    }
    return { ok: true, file: onPath, execPath: onPath, viaShell: needsShell(onPath), release: () => {} };
  }
  const directory = path === "default" ? lookup.handlerDirectory : path;
  return checkedHandler(directory, handler, lookup.euid);
}

function checkedHandler(directory: string, handler: string, euid: number): ResolvedHandler {
  let realDir: string;
  let dirStat: Stats;
  try {
    realDir = realpathSync(directory);
    dirStat = statSync(realDir);
  } catch {
    return { ok: false, reason: `Handler directory ${directory} does not exist` };
  }
  if (!dirStat.isDirectory()) return { ok: false, reason: `Handler directory ${directory} is not a directory` };
  const dirProblem = permissionProblem(dirStat, euid);
  if (dirProblem)
    return {
      ok: false,
      reason: `Handler directory ${directory} ${dirProblem.problem}; run: ${dirProblem.fix} ${directory}`,
    };

  const candidate = join(realDir, handler);
  let realFile: string;
  try {
    realFile = realpathSync(candidate);
  } catch {
    return { ok: false, reason: `Handler ${handler} not found in ${directory}` };
  }
  if (!realFile.startsWith(realDir + sep))
    return { ok: false, reason: `Handler ${handler} resolves outside ${directory}` };

  const fileStat = statSync(realFile);
  if (!fileStat.isFile()) return { ok: false, reason: `Handler ${handler} is not a regular file` };
  if (fileStat.nlink > 1)
    return {
      ok: false,
      reason: `Handler ${handler} has ${fileStat.nlink} hard links; a handler must have exactly one`,
    };
  const fileProblem = permissionProblem(fileStat, euid);
  if (fileProblem)
    return { ok: false, reason: `Handler ${handler} ${fileProblem.problem}; run: ${fileProblem.fix} ${candidate}` };
  if ((fileStat.mode & 0o100) === 0)
    return { ok: false, reason: `Handler ${handler} is not executable by its owner; run: chmod 700 ${candidate}` };

  // Pin the directory that passed, and check what the pinned directory holds.
  let dirFd: number;
  try {
    dirFd = openSync(realDir, O_PATH | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (error) {
    return {
      ok: false,
      reason: `Handler directory ${directory} changed while it was checked (${(error as NodeJS.ErrnoException).code ?? "open failed"}); not running ${handler}`,
    };
  }
  const pinnedDir = `/proc/${process.pid}/fd/${dirFd}`;
  const execPath = `${pinnedDir}/${basename(realFile)}`;
  let problem: string | undefined;
  try {
    const openedDir = fstatSync(dirFd);
    const pinnedFile = lstatSync(execPath);
    problem =
      openedDir.dev !== dirStat.dev || openedDir.ino !== dirStat.ino
        ? `directory ${directory} was replaced while it was checked`
        : (permissionProblem(openedDir, euid)?.problem ??
          (pinnedFile.dev !== fileStat.dev || pinnedFile.ino !== fileStat.ino
            ? "was replaced while it was checked"
            : undefined));
  } catch {
    problem = "disappeared while it was checked";
  }
  if (problem) {
    closeSync(dirFd);
    return { ok: false, reason: `Handler ${handler}: ${problem}; not running it` };
  }
  let released = false;
  return {
    ok: true,
    file: realFile,
    execPath: ancestorsTrusted(realDir, euid) ? realFile : execPath,
    viaShell: needsShell(execPath),
    release: () => {
      if (released) return;
      released = true;
      closeSync(dirFd);
    },
  };
}

/**
 * True when no one but root and the agent's user can rename any ancestor of `dir` (a real path):
 * each is owned by one of them and writable by no one else, or sticky with our entry in it.
 */
function ancestorsTrusted(dir: string, euid: number): boolean {
  const trusted = (uid: number) => uid === 0 || uid === euid;
  try {
    for (let child = dir, parent = dirname(dir); parent !== child; child = parent, parent = dirname(parent)) {
      const p = statSync(parent);
      if (!trusted(p.uid)) return false;
      if ((p.mode & 0o022) !== 0 && !((p.mode & 0o1000) !== 0 && trusted(lstatSync(child).uid))) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/** What is wrong with an owner or mode, and the command that fixes it (chown for an owner, chmod for a mode). */
function permissionProblem(stat: Stats, euid: number): { problem: string; fix: string } | undefined {
  if (stat.uid !== euid && stat.uid !== 0)
    return {
      problem: `is owned by uid ${stat.uid}, not by the agent's user (${euid}) or root`,
      fix: `chown ${euid === 0 ? "root" : euid}`,
    };
  const mode = stat.mode & 0o777;
  if ((mode & 0o077) !== 0)
    return {
      problem: `has permissions ${mode.toString(8).padStart(3, "0")}, must be 700 (nothing for group or others)`,
      fix: "chmod 700",
    };
  return undefined;
}

function isPlainName(name: string): boolean {
  return name !== "" && name !== "." && name !== ".." && !name.includes("/") && !name.includes("\0");
}

function exists(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

/** PATH search like execvp: the first regular executable file. */
export function searchPath(name: string, pathEnv: string): string | undefined {
  for (const dir of pathEnv.split(delimiter)) {
    const file = join(dir || ".", name);
    try {
      const st = statSync(file);
      if (st.isFile() && (st.mode & 0o111) !== 0) return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** execvp retries a file the kernel refuses (ENOEXEC) through /bin/sh; posix_spawn does not. */
function needsShell(file: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(file, constants.O_RDONLY);
    const head = new Uint8Array(4);
    const n = readSync(fd, head, 0, 4, 0);
    if (n >= 2 && head[0] === 0x23 && head[1] === 0x21) return false; // "#!"
    if (n === 4 && head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46) return false; // ELF
    return true;
  } catch {
    return false; // unreadable (e.g. execute-only): let the kernel decide
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
