/**
 * `doctor`'s checks of this device's files: credentials (pair, validity against the clock, chain
 * to the root CA), handler directory and handlers (with the fix that actually fits: chown for an
 * owner, chmod for modes), the state directory and the clock itself.
 */
import type { X509Certificate } from "node:crypto";
import { accessSync, constants, readdirSync, readFileSync, type Stats, statSync } from "node:fs";
import { join } from "node:path";
import type { AgentConfig } from "../config/schema.ts";
import { resolveHandler } from "../runner/handler-path.ts";
import { nodeCrypto } from "../util/lazy-node.ts";
import { type CheckLine, fail, ok, skip, warn } from "./report.ts";

/** Certificates are refused by AWS IoT when the device clock is outside their validity. */
const EARLIEST_PLAUSIBLE_CLOCK = Date.UTC(2025, 0, 1);

export function clockCheck(now: number): CheckLine {
  const iso = new Date(now).toISOString();
  if (now < EARLIEST_PLAUSIBLE_CLOCK)
    return fail(
      "clock",
      `the clock says ${iso}`,
      "set the time (timedatectl set-ntp true, or ntpdate/chrony); TLS fails on a wrong clock",
    );
  return ok("clock", iso);
}

export function credentialChecks(config: AgentConfig, now: number): CheckLine[] {
  if (!config.cert && !config.key) return [skip("certificate", "no certificate configured (plain mqtt:// endpoint)")];
  const lines: CheckLine[] = [];
  let cert: X509Certificate | undefined;
  try {
    cert = new (nodeCrypto().X509Certificate)(readFileSync(config.cert!));
  } catch (error) {
    lines.push(
      fail(
        "certificate",
        `${config.cert} cannot be read as a PEM certificate: ${(error as Error).message}`,
        "point cert at the device certificate (PEM) from CreateKeysAndCertificate",
      ),
    );
  }
  if (cert) {
    const from = Date.parse(cert.validFrom);
    const to = Date.parse(cert.validTo);
    if (now < from)
      lines.push(
        fail(
          "certificate",
          `${config.cert} is not valid before ${cert.validFrom}`,
          "check the device clock, or use a certificate already valid",
        ),
      );
    else if (now > to)
      lines.push(
        fail(
          "certificate",
          `${config.cert} expired on ${cert.validTo}`,
          "issue a new certificate for the thing and attach it (the old one will not connect)",
        ),
      );
    else
      lines.push(
        ok("certificate", `${config.cert}: ${cert.subject.replaceAll("\n", ", ")}, valid until ${cert.validTo}`),
      );
  }
  if (cert && config.key) {
    try {
      const key = nodeCrypto().createPrivateKey(readFileSync(config.key));
      if (cert.checkPrivateKey(key)) lines.push(ok("key-pair", `${config.key} matches the certificate`));
      else
        lines.push(
          fail(
            "key-pair",
            `${config.key} is not the private key of ${config.cert}`,
            "give the key that was created with this certificate",
          ),
        );
    } catch (error) {
      lines.push(
        fail(
          "key-pair",
          `${config.key} cannot be read as a PEM private key: ${(error as Error).message}`,
          "give the PEM private key (PKCS#11 keys are not supported)",
        ),
      );
    }
  }
  if (cert && config.rootCa) {
    try {
      const ca = new (nodeCrypto().X509Certificate)(readFileSync(config.rootCa));
      // A device certificate from AWS IoT is signed by an intermediate the server presents, not by
      // AmazonRootCA1: then only the server's chain can be checked (the tls check does).
      if (cert.checkIssued(ca) && cert.verify(ca.publicKey))
        lines.push(ok("root-ca", `${config.rootCa} signed the device certificate`));
      else
        lines.push(
          ok(
            "root-ca",
            `${config.rootCa}: ${ca.subject.replaceAll("\n", ", ")} (checked against the server in the tls check)`,
          ),
        );
    } catch (error) {
      lines.push(
        fail(
          "root-ca",
          `${config.rootCa} cannot be read as a PEM certificate: ${(error as Error).message}`,
          "point root-ca at AmazonRootCA1.pem (or your broker's CA)",
        ),
      );
    }
  }
  return lines;
}

export function handlerChecks(config: AgentConfig, euid: number): CheckLine[] {
  const dir = config.jobs.handlerDirectory;
  let st: Stats;
  try {
    st = statSync(dir);
  } catch {
    return [fail("handler-dir", `${dir} does not exist`, `mkdir -m 700 ${dir} and install the handlers there`)];
  }
  if (!st.isDirectory()) return [fail("handler-dir", `${dir} is not a directory`)];
  const lines: CheckLine[] = [];
  const mode = st.mode & 0o777;
  const user = euid === 0 ? "root" : `$(id -un ${euid})`;
  if (st.uid !== euid && st.uid !== 0)
    lines.push(
      fail(
        "handler-dir",
        `${dir} is owned by uid ${st.uid}, not by the agent's user (uid ${euid})`,
        `chown ${user} ${dir}`,
      ),
    );
  else if (mode & 0o077)
    lines.push(
      fail(
        "handler-dir",
        `${dir} has mode ${mode.toString(8)}; group and others must have no access`,
        `chmod 700 ${dir}`,
      ),
    );
  else lines.push(ok("handler-dir", `${dir} (mode ${mode.toString(8)})`));
  const names = readdirSync(dir)
    .filter((n) => !n.startsWith("."))
    .sort();
  for (const name of names) {
    const file = join(dir, name);
    const fst = statSync(file, { throwIfNoEntry: false });
    if (!fst?.isFile()) continue;
    if (fst.uid !== euid && fst.uid !== 0) {
      lines.push(
        fail(
          "handler",
          `${name} is owned by uid ${fst.uid}, not by the agent's user (uid ${euid})`,
          `chown ${user} ${file}`,
        ),
      );
      continue;
    }
    if (name.startsWith("_")) {
      // Shared code the handlers source (_common.sh): private, not executable.
      if (fst.mode & 0o077) lines.push(fail("handler", `${name} is readable by group or others`, `chmod 600 ${file}`));
      continue;
    }
    const resolved = resolveHandler(name, "default", { handlerDirectory: dir, euid, pathEnv: process.env.PATH ?? "" });
    if (!resolved.ok) {
      lines.push(
        fail("handler", `${name}: ${resolved.reason}`, (fst.mode & 0o077) !== 0 ? `chmod 700 ${file}` : undefined),
      );
      continue;
    }
    resolved.release();
    if ((fst.mode & 0o100) === 0) lines.push(warn("handler", `${name} is not executable`, `chmod 700 ${file}`));
  }
  if (!lines.some((l) => l.check === "handler"))
    lines.push(ok("handler", `${names.length} file(s) in ${dir}, all owned and private`));
  return lines;
}

export function stateDirCheck(config: AgentConfig): CheckLine {
  const dir = config.stateDir;
  try {
    accessSync(dir, constants.W_OK);
    return ok("state-dir", `${dir} is writable`);
  } catch {
    return warn(
      "state-dir",
      `${dir} is missing or not writable: jobs run without the instance lock and crash-loop records`,
      `mkdir -p -m 700 ${dir}`,
    );
  }
}
