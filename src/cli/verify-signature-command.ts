/**
 * `iot-jobs-agent verify-signature [--cert FILE|DIR | --public-key FILE] --signature BASE64|@FILE
 *  [--algorithm ECDSA-SHA256|RSA-SHA256] [--config-file FILE] ARTIFACT`
 *
 * Exit 0 and one line on stdout when ARTIFACT's signature verifies; 1 and the reason on stderr
 * when it does not (or cannot be checked); 2 for a usage error. Without --cert/--public-key the
 * device's own trust anchors are used: IOT_JOBS_TRUSTED_CERTIFICATES (set by the agent for its
 * steps), else the config file's jobs.signing.trusted-certificates. Loaded only for this command.
 */
import { readFileSync } from "node:fs";
import type { ParsedArgs } from "../config/cli-args.ts";
import { loadConfig } from "../config/load.ts";
import {
  decodeBase64,
  keysFromPem,
  loadTrustedKeys,
  parseAlgorithm,
  type SignatureAlgorithm,
  type TrustedKey,
  verifyFile,
} from "../signing/verify.ts";

export const VERIFY_SIGNATURE_USAGE = `Usage: iot-jobs-agent verify-signature [--cert FILE|DIR | --public-key FILE]
         --signature BASE64|@FILE [--algorithm ECDSA-SHA256|RSA-SHA256] [--config-file FILE] ARTIFACT
  Checks a SHA-256 ECDSA (P-256) or RSA signature over ARTIFACT. Without --cert/--public-key, the
  device's jobs.signing.trusted-certificates. Exit 0: verified; 1: not verified (reason on stderr).`;

const VALUE_FLAGS = ["--cert", "--public-key", "--signature", "--algorithm", "--config-file"] as const;
type Flag = (typeof VALUE_FLAGS)[number];

interface Options {
  readonly flags: Partial<Record<Flag, string>>;
  readonly artifact: string;
}

export function parseVerifyArgs(
  argv: readonly string[],
): { ok: true; options: Options } | { ok: false; message: string } {
  const flags: Partial<Record<Flag, string>> = {};
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if ((VALUE_FLAGS as readonly string[]).includes(arg)) {
      const flag = arg as Flag;
      if (flag in flags) return { ok: false, message: `${flag} was given more than once` };
      const value = argv[i + 1];
      if (value === undefined || value === "") return { ok: false, message: `${flag} needs a value` };
      flags[flag] = value;
      i++;
    } else if (arg.startsWith("-") && arg !== "-") {
      return { ok: false, message: `unknown flag ${arg}` };
    } else {
      files.push(arg);
    }
  }
  if (files.length !== 1) return { ok: false, message: files.length ? "give one ARTIFACT" : "ARTIFACT is missing" };
  if (flags["--signature"] === undefined) return { ok: false, message: "--signature is required" };
  if (flags["--cert"] !== undefined && flags["--public-key"] !== undefined)
    return { ok: false, message: "give --cert or --public-key, not both" };
  return { ok: true, options: { flags, artifact: files[0]! } };
}

/** The signature bytes from `BASE64` or `@FILE` (base64 text, or the raw DER/binary signature). */
function readSignature(value: string): { ok: true; bytes: Uint8Array } | { ok: false; reason: string } {
  if (!value.startsWith("@")) {
    const bytes = decodeBase64(value);
    return bytes ? { ok: true, bytes } : { ok: false, reason: "--signature is not base64" };
  }
  let raw: Buffer;
  try {
    raw = readFileSync(value.slice(1));
  } catch (error) {
    return {
      ok: false,
      reason: `cannot read the signature file ${value.slice(1)}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    };
  }
  // openssl writes binary signatures; AWS and people pass base64 text.
  const asText = decodeBase64(raw.toString("latin1"));
  return { ok: true, bytes: asText ?? new Uint8Array(raw) };
}

async function trustedKeys(
  flags: Options["flags"],
): Promise<{ ok: true; value: TrustedKey[] } | { ok: false; reason: string }> {
  const publicKey = flags["--public-key"];
  if (publicKey !== undefined) {
    try {
      return keysFromPem(readFileSync(publicKey, "utf8"), publicKey);
    } catch (error) {
      return {
        ok: false,
        reason: `cannot read ${publicKey}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      };
    }
  }
  let anchors = flags["--cert"] ?? process.env.IOT_JOBS_TRUSTED_CERTIFICATES;
  if (anchors === undefined || anchors === "") {
    const args: ParsedArgs = {
      command: "run",
      values: flags["--config-file"] ? { "--config-file": flags["--config-file"] } : {},
      switches: new Set(),
      params: [],
      foreign: {},
      files: [],
    };
    const loaded = loadConfig(args);
    if (!loaded.ok) return { ok: false, reason: loaded.message };
    anchors = loaded.config.jobs.signing.trustedCertificates;
    if (anchors === undefined)
      return {
        ok: false,
        reason:
          "no trusted certificate: give --cert or --public-key, or set jobs.signing.trusted-certificates in the config",
      };
  }
  return loadTrustedKeys(anchors);
}

export async function verifySignatureCommand(
  argv: readonly string[],
  out: (line: string) => void,
  err: (line: string) => void,
): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) return (out(VERIFY_SIGNATURE_USAGE), 0);
  const parsed = parseVerifyArgs(argv);
  if (!parsed.ok) {
    err(`iot-jobs-agent verify-signature: ${parsed.message}\n${VERIFY_SIGNATURE_USAGE}`);
    return 2;
  }
  const { flags, artifact } = parsed.options;
  let algorithm: SignatureAlgorithm | undefined;
  if (flags["--algorithm"] !== undefined) {
    algorithm = parseAlgorithm(flags["--algorithm"]);
    if (!algorithm) {
      err(
        `iot-jobs-agent verify-signature: unknown --algorithm ${JSON.stringify(flags["--algorithm"])}; expected ECDSA-SHA256 or RSA-SHA256`,
      );
      return 2;
    }
  }
  const notVerified = (reason: string) => (err(`iot-jobs-agent verify-signature: NOT VERIFIED: ${reason}`), 1);
  const signature = readSignature(flags["--signature"]!);
  if (!signature.ok) return notVerified(signature.reason);
  const keys = await trustedKeys(flags);
  if (!keys.ok) return notVerified(keys.reason);
  const result = await verifyFile(artifact, { signature: signature.bytes, keys: keys.value, algorithm });
  if (!result.ok) return notVerified(`${artifact}: ${result.reason}`);
  out(
    `Verified: ${artifact} (${result.value.bytes} bytes), ${result.value.algorithm} signature by the key in ${result.value.source}`,
  );
  return 0;
}
