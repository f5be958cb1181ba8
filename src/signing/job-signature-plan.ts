/**
 * Which artifacts of a job the agent checks before the first step, and which jobs it refuses
 * outright (pure; no crypto). The carriers of a signature:
 *   - the document's `codesign` block (AWS's shape; the artifact at payloadLocation.url or .file);
 *   - the third argument of a `download-file.sh` step (URL DESTINATION [SIGNATURE]): a package
 *     version's `signature` attribute lands there through its placeholder.
 * Without trusted keys nothing is checked (the Device Client ignores codesign). With
 * `jobs.signing.required` every download-file.sh step must carry a signature and a codesign
 * block must point at something the device can read. Steps that fetch things their own way
 * (runCommand) are the document author's: they call `iot-jobs-agent verify-signature`.
 */
import { basename } from "node:path";
import type { SigningConfig } from "../config/schema.ts";
import type { JobDocument } from "../jobdoc/job-document.ts";

export const DOWNLOAD_HANDLER = "download-file.sh";

export interface ArtifactCheck {
  /** `codesign`, or `steps[1] "fetch"`: names the carrier in the reason. */
  readonly what: string;
  readonly location: { readonly url: string } | { readonly file: string };
  readonly signature: string;
  readonly algorithm: string | undefined;
  readonly size: number | undefined;
}

export type SignaturePlan =
  | { readonly ok: true; readonly checks: readonly ArtifactCheck[] }
  | { readonly ok: false; readonly reason: string };

export function planSignatureChecks(doc: JobDocument, signing: SigningConfig): SignaturePlan {
  if (!signing.trustedCertificates) return { ok: true, checks: [] };
  const checks: ArtifactCheck[] = [];
  const cs = doc.codesign;
  if (cs) {
    const where = cs.location;
    if (!where || !("url" in where || "file" in where)) {
      const s3 = where && "s3" in where ? " has only s3, which the device cannot read" : " is missing";
      return {
        ok: false,
        reason: `codesign: payloadLocation${s3}; give payloadLocation.url (a pre-signed URL) or payloadLocation.file`,
      };
    }
    checks.push({
      what: "codesign",
      location: where,
      signature: cs.signature,
      algorithm: cs.algorithm,
      size: cs.rawPayloadSize,
    });
  }
  const steps = doc.finalStep ? [...doc.steps, doc.finalStep] : doc.steps;
  for (const [index, step] of steps.entries()) {
    const action = step.action;
    if (action.kind !== "handler" || basename(action.handler) !== DOWNLOAD_HANDLER) continue;
    const what = `${index === doc.steps.length ? "finalStep" : `steps[${index}]`} ${JSON.stringify(step.name)}`;
    const [url, , signature] = action.args;
    if (!signature) {
      if (signing.required)
        return {
          ok: false,
          reason: `${what}: ${DOWNLOAD_HANDLER} has no signature argument and jobs.signing.required is true`,
        };
      continue;
    }
    if (!url || !/^https?:\/\//i.test(url))
      return {
        ok: false,
        reason: `${what}: ${DOWNLOAD_HANDLER} needs an http:// or https:// URL to check its signature`,
      };
    checks.push({ what, location: { url }, signature, algorithm: undefined, size: undefined });
  }
  return { ok: true, checks };
}
