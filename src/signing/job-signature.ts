/**
 * Verifies a job's signed artifacts before its first step (the checks come from
 * job-signature-plan.ts): each one is read once, streamed through the hash (a URL over
 * HTTP(S), or a file on the device), within the step timeout and the job's cancel signal.
 * A failure FAILs the job with the reason; no step has run. The handler that downloads the
 * artifact later checks the bytes it keeps again (download-file.sh).
 */
import type { SigningConfig } from "../config/schema.ts";
import type { JobDocument } from "../jobdoc/job-document.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { planSignatureChecks, type ArtifactCheck } from "./job-signature-plan.ts";
import {
  type Checked,
  decodeBase64,
  fileChunks,
  loadTrustedKeys,
  parseAlgorithm,
  type SignatureAlgorithm,
  type TrustedKey,
  type Verified,
  verifyChunks,
} from "./verify.ts";

export interface JobSignatureContext {
  readonly signing: SigningConfig;
  readonly signal?: AbortSignal;
  readonly clock?: Clock;
  /** Limit for reading all artifacts; 0: none. */
  readonly timeoutSeconds: number;
}

/** undefined: every signature verified (or none to check); "canceled"; else the reason to FAIL. */
export async function checkJobSignatures(
  doc: JobDocument,
  ctx: JobSignatureContext,
): Promise<string | "canceled" | undefined> {
  const plan = planSignatureChecks(doc, ctx.signing);
  if (!plan.ok) return `Signature check failed, no step ran: ${plan.reason}`;
  if (plan.checks.length === 0) return undefined;
  const keys = await loadTrustedKeys(ctx.signing.trustedCertificates!);
  if (!keys.ok) return `Signature check failed, no step ran: jobs.signing.trusted-certificates: ${keys.reason}`;

  const abort = new AbortController();
  const onCancel = () => abort.abort();
  ctx.signal?.addEventListener("abort", onCancel, { once: true });
  if (ctx.signal?.aborted) abort.abort();
  const timer =
    ctx.timeoutSeconds > 0
      ? (ctx.clock ?? systemClock).setTimeout(() => abort.abort(), ctx.timeoutSeconds * 1000)
      : undefined;
  try {
    for (const check of plan.checks) {
      const result = await checkArtifact(check, keys.value, abort.signal);
      if (ctx.signal?.aborted) return "canceled";
      if (abort.signal.aborted)
        return `Signature check failed, no step ran: ${check.what}: reading the artifact took longer than ${ctx.timeoutSeconds} s`;
      if (!result.ok) return `Signature check failed, no step ran: ${check.what}: ${result.reason}`;
    }
    return undefined;
  } finally {
    timer?.cancel();
    ctx.signal?.removeEventListener("abort", onCancel);
  }
}

async function checkArtifact(
  check: ArtifactCheck,
  keys: readonly TrustedKey[],
  signal: AbortSignal,
): Promise<Checked<Verified>> {
  const signature = decodeBase64(check.signature);
  if (!signature) return { ok: false, reason: "the signature is not base64" };
  let algorithm: SignatureAlgorithm | undefined;
  if (check.algorithm !== undefined) {
    algorithm = parseAlgorithm(check.algorithm);
    if (!algorithm)
      return {
        ok: false,
        reason: `unknown signatureAlgorithm ${JSON.stringify(check.algorithm)}; expected ECDSA-SHA256 or RSA-SHA256`,
      };
  }
  let result: Checked<Verified>;
  try {
    if ("file" in check.location) {
      result = await verifyChunks(fileChunks(check.location.file), { signature, keys, algorithm });
    } else {
      const response = await fetch(check.location.url, { signal, redirect: "follow" });
      if (!response.ok || !response.body) {
        await response.body?.cancel();
        return { ok: false, reason: `downloading the artifact: HTTP ${response.status}` };
      }
      result = await verifyChunks(response.body, { signature, keys, algorithm });
    }
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    return { ok: false, reason: `reading the artifact: ${e.code === "ENOENT" ? "no such file" : e.message}` };
  }
  if (result.ok && check.size !== undefined && result.value.bytes !== check.size) {
    return { ok: false, reason: `the artifact has ${result.value.bytes} bytes; rawPayloadSize says ${check.size}` };
  }
  return result;
}
