import { readFileSync } from "node:fs";
import type { AgentConfig } from "../config/schema.ts";
import { formatIssues } from "../jobdoc/job-document.ts";
import { parseJobDocument } from "../jobdoc/parse.ts";
import type { Logger } from "../log/logger.ts";
import { runContextFor } from "../runner/run-context.ts";
import { runJob } from "../runner/run-job.ts";
import { sanitizeText, truncateHead } from "../runner/sanitize.ts";

/**
 * `exec FILE`: runs a job document through the agent's own runner, without a cloud, and prints
 * the status and statusDetails the agent would report. Exit 0 SUCCEEDED, 1 FAILED, 2 REJECTED.
 */
export async function execCommand(file: string, config: AgentConfig, log: Logger, out: (line: string) => void): Promise<number> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    out(JSON.stringify({ status: "REJECTED", statusDetails: { reason: `Cannot read ${file}: ${(error as NodeJS.ErrnoException).code}` } }, null, 2));
    return 2;
  }
  const parsed = parseJobDocument(text);
  if (!parsed.ok) {
    out(JSON.stringify({ status: "REJECTED", statusDetails: { reason: truncateHead(sanitizeText(`Invalid job document: ${formatIssues(parsed.issues)}`), 1024) } }, null, 2));
    return 2;
  }
  const abort = new AbortController();
  const onSignal = () => abort.abort("canceled");
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const outcome = await runJob(parsed.document, runContextFor(config, log, abort.signal));
    out(JSON.stringify({ status: outcome.status, statusDetails: outcome.statusDetails }, null, 2));
    return outcome.status === "SUCCEEDED" ? 0 : 1;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
