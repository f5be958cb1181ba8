/** The reason a REJECTED report carries for a document that does not validate. Pure. */
import { formatIssues, type JobDocumentIssue } from "../jobdoc/job-document.ts";
import { reportableValue } from "../runner/sanitize.ts";

/** Through the statusDetails gate, which cuts huge quoted values before its per-character passes. */
export function rejectionReason(issues: readonly JobDocumentIssue[]): string {
  return reportableValue(`Invalid job document: ${formatIssues(issues)}`);
}
