/**
 * The progress file in the agent's state directory: emptied (mode 600) before each step of a
 * document with reportProgress, read at each progress slot, removed when the job ends. The step's
 * handler runs as the agent's user (handlers drop privileges themselves) and finds the path in
 * $IOT_JOBS_PROGRESS_FILE. A file that cannot be written or read means no handler entries, never
 * a failed job.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import type { ProgressFile } from "./agent.ts";
import { parseProgressLines } from "./progress.ts";

export const PROGRESS_FILE_NAME = "step-progress";

export function progressFileIn(stateDir: string): ProgressFile {
  const path = `${stateDir.replace(/\/+$/, "")}/${PROGRESS_FILE_NAME}`;
  return {
    path,
    reset: () => {
      try {
        writeFileSync(path, "", { mode: 0o600 });
      } catch {
        // An unusable state directory: the step runs, its progress entries are not reported.
      }
    },
    read: () => {
      try {
        return parseProgressLines(readFileSync(path, "utf8"));
      } catch {
        return {};
      }
    },
    remove: () => rmSync(path, { force: true }),
  };
}
