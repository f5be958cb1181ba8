/**
 * Signed artifacts: `iot-jobs-agent verify-signature` with keys and signatures made by openssl here
 * (P-256 and RSA), tampered files, wrong keys, truncated signatures, a large artifact in constant
 * memory; jobs whose codesign block or download-file.sh signature does not verify are FAILED
 * before any step runs; download-file.sh keeps a signed download only when it verifies.
 * IOT_JOBS_TEST_1GIB=1 adds the 1 GiB artifact (CI runs 64 MiB).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { createPrivateKey, sign } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SigningConfig } from "../../src/config/schema.ts";
import { runJob } from "../../src/runner/run-job.ts";
import { AgentProcess } from "../helpers/agent-process.ts";
import { compiledAgent } from "../helpers/executables.ts";
import { JobsPeer } from "../helpers/jobs-peer.ts";
import { Mosquitto } from "../helpers/mosquitto.ts";
import { parsed, testRunContext } from "../helpers/run-context.ts";
import { projectHandlerDir, REPO_ROOT, tempDir } from "../helpers/temp.ts";

const MAIN = join(REPO_ROOT, "src/main.ts");
const dir = tempDir("signing-");
const f = (name: string) => join(dir, name);
const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });

function cli(args: string[], env: Record<string, string | undefined> = process.env) {
  const r = Bun.spawnSync([process.execPath, MAIN, "verify-signature", ...args], {
    env,
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString(), maxRss: r.resourceUsage.maxRSS };
}

/** openssl's binary signature of FILE with KEY, and its base64. */
function opensslSign(key: string, file: string, out: string): string {
  ssl("dgst", "-sha256", "-sign", key, "-out", out, file);
  return readFileSync(out).toString("base64");
}

let ecSig: string;
let rsaSig: string;
let server: ReturnType<typeof Bun.serve>;

beforeAll(() => {
  ssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ec.key");
  ssl("req", "-x509", "-new", "-key", "ec.key", "-subj", "/CN=firmware signer", "-days", "2", "-out", "ec.crt");
  ssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "other.key");
  ssl("req", "-x509", "-new", "-key", "other.key", "-subj", "/CN=someone else", "-days", "2", "-out", "other.crt");
  ssl("genrsa", "-out", "rsa.key", "2048");
  ssl("rsa", "-in", "rsa.key", "-pubout", "-out", "rsa.pub");
  writeFileSync(f("fw.bin"), crypto.getRandomValues(new Uint8Array(300_000)));
  ecSig = opensslSign(f("ec.key"), f("fw.bin"), f("fw.ecsig"));
  rsaSig = opensslSign(f("rsa.key"), f("fw.bin"), f("fw.rsasig"));
  const tampered = readFileSync(f("fw.bin"));
  tampered[150_000]! ^= 1; // one bit
  writeFileSync(f("tampered.bin"), tampered);
  mkdirSync(f("trusted"));
  copyFileSync(f("other.crt"), f("trusted/a-other.crt"));
  copyFileSync(f("ec.crt"), f("trusted/b-signer.crt"));
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: (req) => {
      const name = new URL(req.url).pathname.slice(1);
      return existsSync(f(name)) ? new Response(Bun.file(f(name))) : new Response("no", { status: 404 });
    },
  });
});
afterAll(() => server?.stop(true));

describe("verify-signature", () => {
  test("P-256: openssl's DER signature verifies, from a file (binary) and as base64", () => {
    const fromFile = cli(["--cert", f("ec.crt"), "--signature", `@${f("fw.ecsig")}`, f("fw.bin")]);
    expect(fromFile.code, fromFile.err).toBe(0);
    expect(fromFile.out).toContain("ECDSA-SHA256 signature by the key in ec.crt");
    expect(cli(["--cert", f("ec.crt"), "--signature", ecSig, "--algorithm", "ECDSA-SHA256", f("fw.bin")]).code).toBe(0);
  });

  test("P-256: a raw r||s (IEEE P1363) signature verifies too", () => {
    const raw = sign("sha256", readFileSync(f("fw.bin")), {
      key: createPrivateKey(readFileSync(f("ec.key"))),
      dsaEncoding: "ieee-p1363",
    });
    expect(raw.length).toBe(64);
    expect(cli(["--cert", f("ec.crt"), "--signature", raw.toString("base64"), f("fw.bin")]).code).toBe(0);
  });

  test("RSA: openssl's signature verifies with the public key", () => {
    const r = cli(["--public-key", f("rsa.pub"), "--signature", rsaSig, f("fw.bin")]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain("RSA-SHA256");
  });

  test("a tampered file: exit 1 with the reason, never the signature", () => {
    const tampered = f("tampered.bin");
    for (const [flag, key, sig] of [
      ["--cert", f("ec.crt"), ecSig],
      ["--public-key", f("rsa.pub"), rsaSig],
    ] as const) {
      const r = cli([flag, key, "--signature", sig, tampered]);
      expect(r.code).toBe(1);
      expect(r.err).toContain("NOT VERIFIED");
      expect(r.err).toContain("signature does not verify");
      expect(r.err).not.toContain(sig.slice(0, 20));
    }
  });

  test("a wrong key: another P-256 certificate, or an RSA signature for an EC certificate", () => {
    const other = cli(["--cert", f("other.crt"), "--signature", ecSig, f("fw.bin")]);
    expect(other.code).toBe(1);
    expect(other.err).toContain("does not verify with the trusted key (other.crt)");
    const kind = cli(["--cert", f("ec.crt"), "--signature", rsaSig, f("fw.bin")]);
    expect(kind.code).toBe(1);
    expect(kind.err).toContain("made with another kind of key");
    const algorithm = cli(["--cert", f("ec.crt"), "--signature", ecSig, "--algorithm", "RSA-SHA256", f("fw.bin")]);
    expect(algorithm.code).toBe(1);
    expect(algorithm.err).toContain("no trusted key is for RSA-SHA256");
  });

  test("truncated signatures fail with a reason", () => {
    const der = Buffer.from(ecSig, "base64");
    for (const cut of [der.subarray(0, der.length - 3), der.subarray(0, 10)]) {
      const r = cli(["--cert", f("ec.crt"), "--signature", cut.toString("base64"), f("fw.bin")]);
      expect(r.code).toBe(1);
      expect(r.err).toContain("truncated");
    }
    const rsa = Buffer.from(rsaSig, "base64").subarray(1);
    const r = cli(["--public-key", f("rsa.pub"), "--signature", rsa.toString("base64"), f("fw.bin")]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("truncated");
  });

  test("a directory of trusted certificates: the one that verifies is named", () => {
    const r = cli(["--cert", f("trusted"), "--signature", ecSig, f("fw.bin")]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain("b-signer.crt");
  });

  test("without --cert: the device's jobs.signing.trusted-certificates (config file, or the agent's variable)", () => {
    const config = f("agent.conf");
    writeFileSync(config, JSON.stringify({ jobs: { signing: { "trusted-certificates": f("trusted") } } }));
    expect(cli(["--config-file", config, "--signature", ecSig, f("fw.bin")]).code).toBe(0);
    const env = { ...process.env, IOT_JOBS_TRUSTED_CERTIFICATES: f("other.crt") };
    expect(cli(["--signature", ecSig, f("fw.bin")], env).code).toBe(1);
    const none = cli(["--config-file", f("empty.conf"), "--signature", ecSig, f("fw.bin")], {
      ...process.env,
      IOT_JOBS_TRUSTED_CERTIFICATES: "",
    });
    expect(none.code).toBe(1);
  });

  test("bad input: usage errors exit 2; a signature that is not base64, a missing file exit 1", () => {
    expect(cli(["--signature", ecSig]).code).toBe(2);
    expect(cli(["--cert", f("ec.crt"), f("fw.bin")]).code).toBe(2);
    expect(cli(["--cert", f("ec.crt"), "--signature", ecSig, "--algorithm", "MD5", f("fw.bin")]).code).toBe(2);
    expect(cli(["--cert", f("ec.crt"), "--signature", "not*base64", f("fw.bin")]).err).toContain("not base64");
    const missing = cli(["--cert", f("ec.crt"), "--signature", ecSig, f("nothing.bin")]);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain("no such file");
    const notPem = cli(["--cert", f("fw.bin"), "--signature", ecSig, f("fw.bin")]);
    expect(notPem.code).toBe(1);
    expect(notPem.err).toContain("no PEM certificate or public key");
  });

  const big = process.env.IOT_JOBS_TEST_1GIB === "1" ? 1024 : 64;
  test(`a ${big} MiB artifact in constant memory (peak RSS within 24 MiB of a 1 MiB artifact's)`, () => {
    const large = f("large.bin");
    const small = f("small.bin");
    execFileSync("sh", ["-c", `head -c ${big}M /dev/urandom > '${large}'; head -c 1M /dev/urandom > '${small}'`]);
    const largeSig = opensslSign(f("ec.key"), large, f("large.sig"));
    const smallSig = opensslSign(f("ec.key"), small, f("small.sig"));
    const s = cli(["--cert", f("ec.crt"), "--signature", smallSig, small]);
    const l = cli(["--cert", f("ec.crt"), "--signature", largeSig, large]);
    expect(s.code).toBe(0);
    expect(l.code, l.err).toBe(0);
    expect(l.out).toContain(`(${big * 1048576} bytes)`);
    console.log(
      `verify-signature peak RSS: 1 MiB ${(s.maxRss / 1048576).toFixed(1)} MiB, ${big} MiB ${(l.maxRss / 1048576).toFixed(1)} MiB`,
    );
    expect(l.maxRss - s.maxRss).toBeLessThan(24 * 1048576);
    truncateSync(large, big * 1048576 - 1);
    expect(cli(["--cert", f("ec.crt"), "--signature", largeSig, large]).code).toBe(1);
  }, 600_000);
});

describe("jobs with signed artifacts", () => {
  const signing = (over: Partial<SigningConfig> = {}): SigningConfig => ({
    trustedCertificates: f("trusted"),
    required: false,
    ...over,
  });
  const marker = () => join(tempDir("ran-"), "step-ran");
  const touch = (file: string) => ({
    action: { name: "deploy", type: "runCommand", input: { command: `touch,${file}` } },
  });

  test("a codesign block that verifies (file on the device, or a URL): the steps run", async () => {
    for (const payloadLocation of [{ file: f("fw.bin") }, { url: `http://127.0.0.1:${server.port}/fw.bin` }]) {
      const ran = marker();
      const doc = parsed({
        version: "1.0",
        codesign: {
          signature: ecSig,
          signatureAlgorithm: "AWSIoTDeviceManagement-SHA256-ECDSA",
          rawPayloadSize: 300_000,
          payloadLocation,
        },
        steps: [touch(ran)],
      });
      const outcome = await runJob(doc, testRunContext(projectHandlerDir(), { signing: signing({ required: true }) }));
      expect(outcome.status, JSON.stringify(outcome.statusDetails)).toBe("SUCCEEDED");
      expect(existsSync(ran)).toBe(true);
    }
  });

  test("a codesign block that does not verify: FAILED with the reason before any step runs", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ signature: rsaSig, payloadLocation: { file: f("fw.bin") } }, "made with another kind of key"],
      [
        {
          signature: Buffer.from(ecSig, "base64").subarray(0, 20).toString("base64"),
          payloadLocation: { file: f("fw.bin") },
        },
        "truncated",
      ],
      [{ signature: ecSig, payloadLocation: { file: f("tampered.bin") } }, "signature does not verify"],
      [{ signature: ecSig, rawPayloadSize: 5, payloadLocation: { file: f("fw.bin") } }, "rawPayloadSize says 5"],
      [
        {
          signature: ecSig,
          payloadLocation: { url: `http://127.0.0.1:${server.port}/missing.bin?X-Amz-Signature=abc123` },
        },
        "HTTP 404",
      ],
      [{ signature: ecSig, payloadLocation: { s3: { bucketName: "b", key: "k" } } }, "has only s3"],
    ];
    for (const [codesign, reason] of cases) {
      const ran = marker();
      const doc = parsed({ version: "1.0", codesign, steps: [touch(ran)] });
      const outcome = await runJob(doc, testRunContext(projectHandlerDir(), { signing: signing() }));
      expect(outcome.status).toBe("FAILED");
      expect(outcome.statusDetails.reason).toStartWith("Signature check failed, no step ran: codesign: ");
      expect(outcome.statusDetails.reason).toContain(reason);
      expect(outcome.steps).toHaveLength(0);
      expect(existsSync(ran)).toBe(false);
    }
  });

  test("jobs.signing.required: a download-file.sh step without a signature FAILs the job before its first step", async () => {
    const ran = marker();
    const download = {
      action: {
        name: "fetch",
        type: "runHandler",
        input: {
          handler: "download-file.sh",
          args: [`http://127.0.0.1:${server.port}/fw.bin`, f("out.bin")],
          path: "default",
        },
      },
    };
    const doc = parsed({ version: "1.0", steps: [touch(ran), download] });
    const required = await runJob(doc, testRunContext(projectHandlerDir(), { signing: signing({ required: true }) }));
    expect(required.status).toBe("FAILED");
    expect(required.statusDetails.reason).toBe(
      'Signature check failed, no step ran: steps[1] "fetch": download-file.sh has no signature argument and jobs.signing.required is true',
    );
    expect(existsSync(ran)).toBe(false);
  });

  test("a download-file.sh signature (a package's signature attribute) that does not verify FAILs the job before its first step", async () => {
    const ran = marker();
    const url = `http://127.0.0.1:${server.port}/tampered.bin`;
    const download = {
      action: {
        name: "fetch",
        type: "runHandler",
        input: { handler: "download-file.sh", args: [url, f("out.bin"), ecSig], path: "default" },
      },
    };
    const outcome = await runJob(
      parsed({ version: "1.0", steps: [touch(ran), download] }),
      testRunContext(projectHandlerDir(), { signing: signing() }),
    );
    expect(outcome.status).toBe("FAILED");
    expect(outcome.statusDetails.reason).toContain('steps[1] "fetch": signature does not verify');
    expect(existsSync(ran)).toBe(false);
  });

  describe("download-file.sh's own check (the bytes it keeps)", () => {
    const agentWrapper = join(tempDir("agent-bin-"), "iot-jobs-agent");
    writeFileSync(agentWrapper, `#!/bin/sh\nexec '${process.execPath}' '${MAIN}' "$@"\n`, { mode: 0o755 });
    const env = () => ({ ...process.env, IOT_JOBS_AGENT: agentWrapper, IOT_JOBS_TRUSTED_CERTIFICATES: f("trusted") });
    const run = (file: string, dest: string, sig: string) =>
      runJob(
        parsed({
          version: "1.0",
          includeStdOut: true,
          steps: [
            {
              action: {
                name: "fetch",
                type: "runHandler",
                input: {
                  handler: "download-file.sh",
                  args: [`http://127.0.0.1:${server.port}/${file}?token=t0ken`, dest, sig],
                  path: "default",
                },
              },
            },
          ],
        }),
        // No pre-check: the handler alone decides here.
        testRunContext(projectHandlerDir(), { env: env() }),
      );

    test("a download that verifies is kept (into a file or a directory)", async () => {
      const dest = join(tempDir(), "fw.bin");
      const outcome = await run("fw.bin", dest, ecSig);
      expect(outcome.status, JSON.stringify(outcome.statusDetails)).toBe("SUCCEEDED");
      expect(outcome.statusDetails.stdout).toContain("(signature verified)");
      expect(readFileSync(dest).equals(readFileSync(f("fw.bin")))).toBe(true);
      const into = tempDir();
      expect((await run("fw.bin", into, rsaSig)).status).toBe("FAILED"); // the RSA key is not trusted
      expect((await run("fw.bin", into, ecSig)).status).toBe("SUCCEEDED");
      expect(existsSync(join(into, "fw.bin"))).toBe(true);
    });

    test("a download that does not verify is not kept, and the reason is in stderr", async () => {
      const dest = join(tempDir(), "fw.bin");
      const outcome = await run("tampered.bin", dest, ecSig);
      expect(outcome.status).toBe("FAILED");
      expect(outcome.statusDetails.stderr).toContain("signature does not verify");
      expect(outcome.statusDetails.stderr).toContain("Not kept");
      expect(outcome.statusDetails.stderr).not.toContain(ecSig.slice(0, 16));
      expect(existsSync(dest)).toBe(false);
    });
  });

  test("exec with jobs.signing in the config file: the agent's own wiring", () => {
    const config = f("exec.conf");
    writeFileSync(
      config,
      JSON.stringify({
        "thing-name": "t",
        jobs: {
          "handler-directory": projectHandlerDir(),
          signing: { "trusted-certificates": f("ec.crt"), required: true },
        },
      }),
    );
    const ran = marker();
    const doc = f("job.json");
    writeFileSync(
      doc,
      JSON.stringify({
        version: "1.0",
        codesign: { signature: ecSig, payloadLocation: { file: f("tampered.bin") } },
        steps: [touch(ran)],
      }),
    );
    const r = Bun.spawnSync([process.execPath, MAIN, "exec", doc, "--config-file", config], {
      stdout: "pipe",
      stderr: "pipe",
    });
    const result = JSON.parse(r.stdout.toString()) as { status: string; statusDetails: { reason: string } };
    expect(result.status).toBe("FAILED");
    expect(result.statusDetails.reason).toContain("codesign: signature does not verify");
    expect(existsSync(ran)).toBe(false);
    writeFileSync(config, JSON.stringify({ jobs: { signing: { required: true } } }));
    const bad = Bun.spawnSync([process.execPath, MAIN, "exec", doc, "--config-file", config], {
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr.toString()).toContain(
      "jobs.signing.required is true but jobs.signing.trusted-certificates names no file",
    );
  });

  test("the compiled agent: exec runs download-file.sh, which checks with the agent's own executable and trust anchors", async () => {
    const agent = compiledAgent("linux-x64");
    const config = f("compiled.conf");
    writeFileSync(
      config,
      JSON.stringify({
        "thing-name": "t",
        jobs: {
          "handler-directory": projectHandlerDir(),
          signing: { "trusted-certificates": f("trusted"), required: true },
        },
      }),
    );
    const dest = join(tempDir(), "fw.bin");
    const doc = f("compiled-job.json");
    const step = (file: string) => ({
      action: {
        name: "fetch",
        type: "runHandler",
        input: {
          handler: "download-file.sh",
          args: [`http://127.0.0.1:${server.port}/${file}`, dest, ecSig],
          path: "default",
        },
      },
    });
    // No iot-jobs-agent on PATH and no IOT_JOBS_AGENT: the agent tells the handler where it is.
    const env = { PATH: "/usr/bin:/bin", HOME: tempDir() };
    writeFileSync(doc, JSON.stringify({ version: "1.0", includeStdOut: true, steps: [step("fw.bin")] }));
    // Spawned without blocking: this process serves the downloads.
    const exec = async () =>
      JSON.parse(
        await new Response(
          Bun.spawn([agent, "exec", doc, "--config-file", config], { env, stderr: "ignore" }).stdout,
        ).text(),
      );
    const good = await exec();
    expect(good.status, JSON.stringify(good.statusDetails)).toBe("SUCCEEDED");
    expect(good.statusDetails.stdout).toContain("(signature verified)");
    expect(readFileSync(dest).equals(readFileSync(f("fw.bin")))).toBe(true);
    writeFileSync(doc, JSON.stringify({ version: "1.0", steps: [step("tampered.bin")] }));
    const bad = await exec();
    expect(bad.status).toBe("FAILED");
    expect(bad.statusDetails.reason).toContain(
      'Signature check failed, no step ran: steps[0] "fetch": signature does not verify',
    );
  }, 240_000);

  test("the agent over MQTT: a codesign that verifies runs; one that does not is FAILED with the reason, no step run", async () => {
    const broker = await Mosquitto.start();
    const peer = await JobsPeer.start(broker.url);
    const signingConfig = { "trusted-certificates": f("trusted"), required: true };
    const agent = AgentProcess.start({
      brokerUrl: broker.url,
      thingName: "signed-thing",
      handlerDirectory: projectHandlerDir(),
      signing: signingConfig,
    });
    try {
      const good = marker();
      const bad = marker();
      const job = (file: string, ran: string) => ({
        version: "1.0",
        codesign: { signature: ecSig, payloadLocation: { file: f(file) } },
        steps: [touch(ran)],
      });
      peer.queueJob("signed-thing", "signed-ok", job("fw.bin", good));
      peer.queueJob("signed-thing", "signed-bad", job("tampered.bin", bad));
      expect((await peer.waitForStatus("signed-thing", "signed-ok", "SUCCEEDED", 30_000)).statusDetails.reason).toBe(
        "Exited with status: 0",
      );
      const failed = await peer.waitForStatus("signed-thing", "signed-bad", "FAILED", 30_000);
      expect(failed.statusDetails.reason).toStartWith(
        "Signature check failed, no step ran: codesign: signature does not verify",
      );
      expect(existsSync(good)).toBe(true);
      expect(existsSync(bad)).toBe(false);
    } finally {
      await agent.kill("SIGKILL");
      await peer.stop();
      await broker.stop();
    }
  }, 120_000);
});
