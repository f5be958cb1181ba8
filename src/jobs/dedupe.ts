/**
 * Recognises a repeated notification of the same execution [DC-JOBS-dedupe]. An execution is
 * identified by jobId, executionNumber and queuedAt (a jobId reused after DeleteJob starts again
 * at executionNumber 1, but is queued anew), and its document as `sameDocument` compares documents
 * (one rule: a regenerated pre-signed URL signature must not re-run a job; another object must).
 *
 * The key is only needed while an execution is being handled and until the service has its
 * terminal status: the agent forgets it then (`forget`), so a later execution that looks the same
 * — a jobId reused within the same second, with the same document — still runs. Stale replays of
 * a finished execution are stopped by the IN_PROGRESS confirmation before the first step instead.
 */
import { documentFingerprint } from "./same-document.ts";

export interface NotificationKey {
  readonly jobId: string;
  readonly executionNumber: number | undefined;
  readonly queuedAt: number | undefined;
  readonly document: string;
}

export function notificationKey(
  jobId: string,
  executionNumber: number | undefined,
  document: unknown,
  queuedAt?: number,
): NotificationKey {
  return { jobId, executionNumber, queuedAt, document: documentFingerprint(document ?? null) };
}

export function sameNotification(a: NotificationKey | undefined, b: NotificationKey): boolean {
  return (
    a !== undefined &&
    a.jobId === b.jobId &&
    a.executionNumber === b.executionNumber &&
    a.queuedAt === b.queuedAt &&
    a.document === b.document
  );
}

/** The last execution handled, until the service has its terminal status. */
export class RecentExecution {
  private key: NotificationKey | undefined;
  /** The service refused to start the remembered execution (gone: canceled, deleted, ended). */
  private refused = false;

  /**
   * True when `key` repeats the remembered execution; otherwise remembers `key`. After a refusal,
   * a notify-next (`announced`) that looks the same is not a repeat: the service announces a job
   * created again under the id in the same second (queuedAt is in seconds) with the same document.
   * A start-next reply that looks the same still is (an answer to our own request cannot loop).
   */
  isRepeat(key: NotificationKey, announced = false): boolean {
    if (sameNotification(this.key, key) && !(announced && this.refused)) return true;
    this.key = key;
    this.refused = false;
    return false;
  }

  /** The service refused to start this job's execution: see `isRepeat`. */
  refusedStart(jobId: string): void {
    if (this.key?.jobId === jobId) this.refused = true;
  }

  /** The execution reached a terminal state the service accepted: a same-looking one is new. */
  forget(jobId: string): void {
    if (this.key?.jobId === jobId) this.key = undefined;
  }
}
