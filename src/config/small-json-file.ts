/**
 * The Device Client's small JSON files — its config file, `http-proxy.conf`, the fleet-provisioning
 * runtime config — read the one way: a file of at most 5000 bytes (the Device Client's own limit),
 * parsed as JSON, with its stat for the caller's own owner and mode rules. `what` names the file in
 * every message ("Config file", "HTTP proxy config", …).
 */
import { readFileSync, type Stats, statSync } from "node:fs";

export const MAX_DEVICE_CLIENT_FILE_BYTES = 5000;

export type SmallJsonFile =
  | { readonly ok: true; readonly value: unknown; readonly stats: Stats }
  | { readonly ok: false; readonly message: string; readonly code?: string };

/** Stats `path` (a missing file fails with `code` ENOENT/ENOTDIR), then `check`s it, then reads and parses it. */
export function readSmallJsonFile(
  path: string,
  what: string,
  check: (stats: Stats) => string | undefined = () => undefined,
): SmallJsonFile {
  let stats: Stats;
  try {
    stats = statSync(path);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    return { ok: false, message: `Cannot read ${what.toLowerCase()} ${path}: ${e.message}`, code: e.code };
  }
  if (!stats.isFile()) return { ok: false, message: `${what} ${path} is not a file` };
  const refused = check(stats);
  if (refused) return { ok: false, message: refused };
  if (stats.size > MAX_DEVICE_CLIENT_FILE_BYTES)
    return {
      ok: false,
      message: `${what} ${path} is ${stats.size} bytes; the limit is ${MAX_DEVICE_CLIENT_FILE_BYTES} bytes`,
    };
  try {
    return { ok: true, value: JSON.parse(readFileSync(path, "utf8")), stats };
  } catch (error) {
    return { ok: false, message: `${what} ${path} is not valid JSON: ${(error as Error).message}` };
  }
}
