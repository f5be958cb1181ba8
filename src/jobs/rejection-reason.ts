/** The reason a REJECTED report carries for a document that does not validate. Pure. */
import { formatIssues, type JobDocumentIssue } from "../jobdoc/job-document.ts";
import { sanitizeText, truncateHead } from "../runner/sanitize.ts";
import { redactSecrets } from "../util/redact.ts";
import { MAX_DETAIL_CHARS } from "../runner/run-job.ts";

/** Issues can quote huge values: cut (generously) before the per-character passes. */
const PRE_CUT = MAX_DETAIL_CHARS * 4;

export function rejectionReason(issues: readonly JobDocumentIssue[]): string {
  const text = `Invalid job document: ${formatIssues(issues)}`;
  return truncateHead(sanitizeText(redactSecrets(text.length > PRE_CUT ? text.slice(0, PRE_CUT) : text)), MAX_DETAIL_CHARS);
}
