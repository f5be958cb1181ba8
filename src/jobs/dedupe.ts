/**
 * Recognises a repeated notification of the same execution [DC-JOBS-dedupe]: same jobId,
 * executionNumber and document, where S3 pre-signed URLs are compared without their query string
 * (a regenerated signature must not re-run a job).
 */
const PRESIGNED_S3 = /(https:\/\/[^.\s"]+\.s3[.-](?:[^.\s"]+\.)?amazonaws\.com\/[^?\s"]+)(\?[^"\s]+)?/g;

export function normaliseDocument(document: unknown): string {
  const compact = typeof document === "string" ? safeCompact(document) : JSON.stringify(document ?? null);
  return compact.replace(PRESIGNED_S3, "$1?aws:iot:s3-presigned-suffix:PLACEHOLDER");
}

function safeCompact(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text));
  } catch {
    return text;
  }
}

export interface NotificationKey {
  readonly jobId: string;
  readonly executionNumber: number | undefined;
  readonly document: string;
}

export function notificationKey(jobId: string, executionNumber: number | undefined, document: unknown): NotificationKey {
  return { jobId, executionNumber, document: normaliseDocument(document) };
}

export function sameNotification(a: NotificationKey | undefined, b: NotificationKey): boolean {
  return a !== undefined && a.jobId === b.jobId && a.executionNumber === b.executionNumber && a.document === b.document;
}
