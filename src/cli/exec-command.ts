import { readFileSync } from "node:fs";
import type { AgentConfig } from "../config/schema.ts";
import { formatIssues } from "../jobdoc/job-document.ts";
import { parseJobDocument } from "../jobdoc/parse.ts";
import { fillPlaceholders, findPlaceholders } from "../jobdoc/placeholders.ts";
import type { Logger } from "../log/logger.ts";
import { runContextFor } from "../runner/run-context.ts";
import { runJob } from "../runner/run-job.ts";
import { sanitizeText, truncateHead } from "../runner/sanitize.ts";
import { MAX_STATUS_DETAIL_VALUE_CHARS } from "../protocol/limits.ts";

/**
 * `exec FILE`: runs a job document through the agent's own runner, without a cloud, and prints
 * the status and statusDetails the agent would report. Exit 0 SUCCEEDED, 1 FAILED, 2 REJECTED.
 */
export async function execCommand(
  file: string,
  config: AgentConfig,
  log: Logger,
  out: (line: string) => void,
  params: readonly (readonly [string, string])[] = [],
): Promise<number> {
  let text: string;
  try {
    text = fillPlaceholders(readFileSync(file, "utf8"), params);
  } catch (error) {
    out(
      JSON.stringify(
        {
          status: "REJECTED",
          statusDetails: { reason: `Cannot read ${file}: ${(error as NodeJS.ErrnoException).code}` },
        },
        null,
        2,
      ),
    );
    return 2;
  }
  // A placeholder only the service fills in would reach a handler verbatim (a file named ${…}).
  const unresolved = findPlaceholders(text);
  if (unresolved.length) {
    const keys = unresolved.map((p) => (p.startsWith("aws:iot:parameter:") ? p.slice("aws:iot:parameter:".length) : p));
    const reason = `Unresolved service placeholders: ${unresolved.map((p) => `\${${p}}`).join(", ")}; give --param ${keys.map((k) => `${k}=…`).join(" --param ")}`;
    out(
      JSON.stringify(
        {
          status: "REJECTED",
          statusDetails: { reason: truncateHead(sanitizeText(reason), MAX_STATUS_DETAIL_VALUE_CHARS) },
        },
        null,
        2,
      ),
    );
    return 2;
  }
  const parsed = parseJobDocument(text);
  if (!parsed.ok) {
    out(
      JSON.stringify(
        {
          status: "REJECTED",
          statusDetails: {
            reason: truncateHead(
              sanitizeText(`Invalid job document: ${formatIssues(parsed.issues)}`),
              MAX_STATUS_DETAIL_VALUE_CHARS,
            ),
          },
        },
        null,
        2,
      ),
    );
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
