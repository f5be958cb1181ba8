/** The reason a REJECTED report carries for a document that does not validate. Pure. */
import { formatIssues, type JobDocumentIssue } from "../jobdoc/job-document.ts";
import { sanitizeText, truncateHead } from "../runner/sanitize.ts";
import { redactSecrets } from "../util/redact.ts";
import { MAX_DETAIL_CHARS } from "../runner/run-job.ts";

export function rejectionReason(issues: readonly JobDocumentIssue[]): string {
  return truncateHead(sanitizeText(redactSecrets(`Invalid job document: ${formatIssues(issues)}`)), MAX_DETAIL_CHARS);
}
