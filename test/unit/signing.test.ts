import { describe, expect, test } from "bun:test";
import { formatIssues } from "../../src/jobdoc/job-document.ts";
import { parseJobDocument } from "../../src/jobdoc/parse.ts";
import { planSignatureChecks } from "../../src/signing/job-signature-plan.ts";
import { decodeBase64, ecdsaEncoding, parseAlgorithm } from "../../src/signing/verify.ts";
import { parsed } from "../helpers/run-context.ts";

const trusted = { trustedCertificates: "/etc/iot/signers", required: false };
const download = (args: string[], name = "fetch") => ({
  action: { name, type: "runHandler", input: { handler: "download-file.sh", args } },
});

describe("which artifacts a job's signatures cover", () => {
  test("nothing is checked on a device that trusts no key (the Device Client ignores codesign)", () => {
    const doc = parsed({
      version: "1.0",
      codesign: { signature: "AAAA", payloadLocation: { file: "/x" } },
      steps: [download(["http://h/a", "/a", "AAAA"])],
    });
    expect(planSignatureChecks(doc, { trustedCertificates: undefined, required: false })).toEqual({
      ok: true,
      checks: [],
    });
  });

  test("codesign and every download-file.sh signature, in order, finalStep included", () => {
    const doc = parsed({
      version: "1.0",
      codesign: {
        signature: "AAAA",
        signatureAlgorithm: "SHA256withECDSA",
        rawPayloadSize: 3,
        payloadLocation: { url: "https://h/fw" },
      },
      steps: [download(["https://h/a", "/a", "QkJC"]), download(["https://h/b", "/b"], "unsigned")],
      finalStep: download(["https://h/c", "/c", "Q0ND"], "last"),
    });
    const plan = planSignatureChecks(doc, trusted);
    if (!plan.ok) throw new Error(plan.reason);
    expect(plan.checks.map((c) => [c.what, c.location, c.signature])).toEqual([
      ["codesign", { url: "https://h/fw" }, "AAAA"],
      ['steps[0] "fetch"', { url: "https://h/a" }, "QkJC"],
      ['finalStep "last"', { url: "https://h/c" }, "Q0ND"],
    ]);
  });

  test("required: an unsigned download-file.sh step, or a codesign the device cannot read, refuses the job", () => {
    const unsigned = parsed({ version: "1.0", steps: [download(["https://h/b", "/b"], "unsigned")] });
    expect(planSignatureChecks(unsigned, { ...trusted, required: true })).toEqual({
      ok: false,
      reason: 'steps[0] "unsigned": download-file.sh has no signature argument and jobs.signing.required is true',
    });
    const s3 = parsed({
      version: "1.0",
      codesign: { signature: "AAAA", payloadLocation: { s3: { bucketName: "b", key: "k" } } },
      steps: [download(["https://h/a", "/a", "QQ=="])],
    });
    const plan = planSignatureChecks(s3, trusted);
    expect(plan.ok).toBe(false);
    if (!plan.ok) expect(plan.reason).toContain("has only s3");
    // A job without artifacts is not refused: required covers what the job names for the agent.
    expect(
      planSignatureChecks(
        parsed({ version: "1.0", steps: [{ action: { name: "r", type: "runCommand", input: { command: "true" } } }] }),
        { ...trusted, required: true },
      ).ok,
    ).toBe(true);
  });

  test("a malformed codesign block is refused by validation, with its path", () => {
    const bad = parseJobDocument({
      version: "1.0",
      codesign: { signature: "", payloadLocation: { url: "ftp://x", file: "relative" } },
      steps: [download(["a", "b"])],
    });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      const text = formatIssues(bad.issues);
      expect(text).toContain("codesign.signature: must not be empty");
      expect(text).toContain("codesign.payloadLocation.url: expected an http:// or https:// URL");
      expect(text).toContain("codesign.payloadLocation.file: expected an absolute path");
    }
  });
});

describe("signature encodings and names", () => {
  test("ECDSA: DER when it parses as one, raw r||s at twice the curve size, else nothing (truncated)", () => {
    const der = new Uint8Array([0x30, 6, 2, 1, 1, 2, 1, 1]);
    expect(ecdsaEncoding(der, 32)).toBe("der");
    expect(ecdsaEncoding(der.subarray(0, 7), 32)).toBeUndefined();
    expect(ecdsaEncoding(new Uint8Array(64), 32)).toBe("ieee-p1363");
    expect(ecdsaEncoding(new Uint8Array(63), 32)).toBeUndefined();
  });

  test("base64 strictly; algorithm names of AWS, openssl and ours", () => {
    expect(decodeBase64("QUJD")).toEqual(new Uint8Array([65, 66, 67]));
    expect(decodeBase64("QU\nJD")).toEqual(new Uint8Array([65, 66, 67]));
    for (const bad of ["", "Q", "QU*D", "QUJD==" + "="]) expect(decodeBase64(bad)).toBeUndefined();
    expect(parseAlgorithm("AWSIoTDeviceManagement-SHA256-ECDSA")).toBe("ECDSA-SHA256");
    expect(parseAlgorithm("SHA256withRSA")).toBe("RSA-SHA256");
    expect(parseAlgorithm("MD5withRSA")).toBeUndefined();
  });
});
