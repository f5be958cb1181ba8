/**
 * The jobId of an execution message the MQTT client dropped for its size, read from the first
 * bytes it kept (pure). Only a `"jobId"` that comes before any `"jobDocument"` is trusted: a
 * document (which could say anything) must never name the execution that gets REJECTED. AWS and
 * the local service both put jobId first in an execution.
 */
import { JOB_ID_PATTERN } from "../protocol/ids.ts";

const JOB_ID_FIELD = /"jobId"\s*:\s*"([^"\\]{1,64})"/;

export function jobIdOfTruncatedExecution(head: Uint8Array): string | undefined {
  const text = new TextDecoder().decode(head); // a cut multi-byte character at the end becomes U+FFFD
  const match = JOB_ID_FIELD.exec(text);
  if (!match) return undefined;
  const documentAt = text.indexOf('"jobDocument"');
  if (documentAt !== -1 && documentAt < match.index) return undefined;
  const jobId = match[1]!;
  return JOB_ID_PATTERN.test(jobId) ? jobId : undefined;
}
