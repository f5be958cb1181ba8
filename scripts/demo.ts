/**
 * npm run demo: the whole loop on this machine, no network beyond loopback, configured as in production.
 *   1. iot-jobs-local serve (embedded broker with its mutual-TLS listener, free ports)
 *   2. a thing, CreateKeysAndCertificate, the Device Client's minimum Jobs policy, AttachPolicy,
 *      AttachThingPrincipal; its agent (bun src/main.ts) with --endpoint host:port --cert --key
 *      --root-ca over mutual TLS, and the project's handlers
 *   3. the artifact uploaded with the S3 API (PutObject); package demo-tool 1.0.0 whose artifact is
 *      that object and whose sha256 attribute is its digest, published; Jobs may write $package
 *   4. a dynamic group of the things that do not have demo-tool 1.0.0
 *   5. a job from examples/package-deploy.json (substitution parameters, a pre-signed URL for the
 *      artifact made at delivery, destinationPackageVersions) targeted at that group
 *   6. waits for SUCCEEDED and prints the job, the substituted document, each step's outcome and
 *      output tail, $package after, and the group after (the thing has left it).
 *   7. an AWS managed template job (AWS-Download-File, as most fleets get their jobs) fetching the
 *      same artifact into the work directory.
 * Exit 0 on success; non-zero with the reason otherwise. Everything goes through
 * @aws-sdk/client-iot and @aws-sdk/client-iot-data-plane, as it would against AWS.
 */
import { jobsMinimumPolicy } from "../src/service/identity/minimum-jobs-policy.ts";
import * as Iot from "@aws-sdk/client-iot";
import { GetThingShadowCommand, IoTDataPlaneClient } from "@aws-sdk/client-iot-data-plane";
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const work = mkdtempSync(join(tmpdir(), "iot-jobs-demo-"));
chmodSync(work, 0o700);
const children: ReturnType<typeof Bun.spawn>[] = [];
const agentLog: string[] = [];

async function main(): Promise<void> {
  // The shipped handlers, in a private directory with the modes the agent insists on.
  const handlers = join(work, "handlers");
  mkdirSync(handlers, { mode: 0o700 });
  for (const name of readdirSync(join(root, "handlers"))) {
    copyFileSync(join(root, "handlers", name), join(handlers, name));
    chmodSync(join(handlers, name), name.startsWith("_") ? 0o600 : 0o700);
  }

  const artifact = `demo-tool 1.0.0\n${"binary ".repeat(512)}\n`;
  const sha256 = createHash("sha256").update(artifact).digest("hex");

  step("Starting iot-jobs-local (embedded broker, mutual TLS, in-memory store)");
  const service = Bun.spawn(
    [
      process.execPath,
      join(root, "src/service/main.ts"),
      "serve",
      "--mqtt-port",
      "0",
      "--http-port",
      "0",
      "--log-level",
      "WARN",
    ],
    { stdout: "pipe", stderr: "inherit" },
  );
  children.push(service);
  const { mqtts, http, rootCa } = await firstJsonLine(service.stdout as ReadableStream<Uint8Array>);
  console.log(`  mqtts ${mqtts}   http ${http}   root CA ${rootCa}`);
  const credentials = { accessKeyId: "local", secretAccessKey: "local" };
  const iot = new Iot.IoTClient({ endpoint: http, region: "us-east-1", credentials });
  const data = new IoTDataPlaneClient({ endpoint: http, region: "us-east-1", credentials });

  const thing = "demo-pi-1";
  step(`Registering ${thing}: certificate, minimum Jobs policy, principal; starting its agent over mutual TLS`);
  await iot.send(new Iot.CreateThingCommand({ thingName: thing, attributePayload: { attributes: { site: "desk" } } }));
  const cert = await iot.send(new Iot.CreateKeysAndCertificateCommand({ setAsActive: true }));
  const certs = join(work, "certs");
  mkdirSync(certs, { mode: 0o700 });
  writeFileSync(join(certs, "device.pem.crt"), cert.certificatePem!, { mode: 0o644 });
  writeFileSync(join(certs, "private.pem.key"), cert.keyPair!.PrivateKey!, { mode: 0o600 });
  await iot.send(
    new Iot.CreatePolicyCommand({
      policyName: "jobs-minimum",
      policyDocument: jobsMinimumPolicy("us-east-1", "123456789012"),
    }),
  );
  await iot.send(new Iot.AttachPolicyCommand({ policyName: "jobs-minimum", target: cert.certificateArn! }));
  await iot.send(new Iot.AttachThingPrincipalCommand({ thingName: thing, principal: cert.certificateArn! }));
  const endpoint = (await iot.send(new Iot.DescribeEndpointCommand({ endpointType: "iot:Data-ATS" }))).endpointAddress!;
  console.log(`  certificate ${cert.certificateId!.slice(0, 12)}…  endpoint ${endpoint}`);
  const agent = Bun.spawn(
    [
      process.execPath,
      join(root, "src/main.ts"),
      "--endpoint",
      endpoint,
      "--cert",
      join(certs, "device.pem.crt"),
      "--key",
      join(certs, "private.pem.key"),
      "--root-ca",
      rootCa,
      "--thing-name",
      thing,
      "--jobs-handler-dir",
      handlers,
      "--state-dir",
      join(work, "state"),
      "--log-level",
      "INFO",
    ],
    { stdout: "pipe", stderr: "pipe", cwd: work },
  );
  children.push(agent);
  void collectLines(agent.stdout as ReadableStream<Uint8Array>, agentLog);
  void collectLines(agent.stderr as ReadableStream<Uint8Array>, agentLog);

  step("Uploading the artifact (S3 PutObject) and creating package demo-tool 1.0.0 (artifact + sha256), publishing it");
  await s3(http, "PUT", "/demo-artifacts");
  await s3(http, "PUT", "/demo-artifacts/demo-tool/1.0.0.bin", artifact);
  await iot.send(
    new Iot.CreatePackageCommand({ packageName: "demo-tool", description: "a demo artifact in the local S3" }),
  );
  await iot.send(
    new Iot.CreatePackageVersionCommand({
      packageName: "demo-tool",
      versionName: "1.0.0",
      artifact: { s3Location: { bucket: "demo-artifacts", key: "demo-tool/1.0.0.bin", version: "1" } },
      attributes: { sha256 },
    }),
  );
  await iot.send(
    new Iot.UpdatePackageVersionCommand({ packageName: "demo-tool", versionName: "1.0.0", action: "PUBLISH" }),
  );
  await iot.send(
    new Iot.UpdatePackageConfigurationCommand({
      versionUpdateByJobsConfig: { enabled: true, roleArn: "arn:aws:iam::123456789012:role/demo-jobs-package-shadow" },
    }),
  );

  const query = "thingName:demo-* AND NOT shadow.name.$package.reported.demo\\-tool.version:1.0.0";
  step(`Creating dynamic group needs-demo-tool: ${query}`);
  await iot.send(new Iot.CreateDynamicThingGroupCommand({ thingGroupName: "needs-demo-tool", queryString: query }));
  console.log(
    `  members: ${(await iot.send(new Iot.ListThingsInThingGroupCommand({ thingGroupName: "needs-demo-tool" }))).things?.join(", ") || "(none)"}`,
  );

  step("Creating job deploy-demo-tool-1_0_0 from examples/package-deploy.json");
  const document = readFileSync(join(root, "examples/package-deploy.json"), "utf8");
  const created = await iot.send(
    new Iot.CreateJobCommand({
      jobId: "deploy-demo-tool-1_0_0",
      targets: ["arn:aws:iot:us-east-1:123456789012:thinggroup/needs-demo-tool"],
      document,
      destinationPackageVersions: ["arn:aws:iot:us-east-1:123456789012:package/demo-tool/version/1.0.0"],
      presignedUrlConfig: { roleArn: "arn:aws:iam::123456789012:role/demo-presign", expiresInSec: 300 },
      description: "Install demo-tool 1.0.0 where it is missing",
    }),
  );
  console.log(`  ${created.jobArn}`);

  const execution = await waitForTerminal(iot, created.jobId!, thing);
  const job = (await iot.send(new Iot.DescribeJobCommand({ jobId: created.jobId! }))).job!;
  const deployed = (await iot.send(new Iot.GetJobDocumentCommand({ jobId: created.jobId! }))).document!;
  const shadow = JSON.parse(
    new TextDecoder().decode(
      (await data.send(new GetThingShadowCommand({ thingName: thing, shadowName: "$package" }))).payload,
    ),
  );
  const membersAfter =
    (await iot.send(new Iot.ListThingsInThingGroupCommand({ thingGroupName: "needs-demo-tool" }))).things ?? [];

  step("Job");
  console.log(`  ${job.jobId}: ${job.status}, targets ${job.targets?.join(", ")}`);
  console.log(`  destinationPackageVersions: ${job.destinationPackageVersions?.join(", ")}`);
  step("Document as stored (GetJobDocument: parameters substituted; each delivery gets a fresh pre-signed URL)");
  for (const s of JSON.parse(deployed).steps.concat([JSON.parse(deployed).finalStep]))
    console.log(`  ${s.action.name}: ${JSON.stringify(s.action.input)}`);
  step(`Steps on ${thing}`);
  for (const line of agentLog) {
    try {
      const entry = JSON.parse(line) as { msg: string; step?: string; succeeded?: boolean; reason?: string };
      if (entry.msg === "Step ended")
        console.log(`  ${entry.succeeded ? "ok  " : "FAIL"} ${entry.step}: ${entry.reason}`);
    } catch {
      // not a log record
    }
  }
  const details = execution.statusDetails?.detailsMap ?? {};
  console.log("  output tail (stdout):");
  for (const l of (details.stdout ?? "").trimEnd().split("\n").slice(-6)) console.log(`    | ${l}`);
  if (details.stderr)
    console.log(
      `  stderr tail:\n${details.stderr
        .trimEnd()
        .split("\n")
        .slice(-6)
        .map((l) => `    | ${l}`)
        .join("\n")}`,
    );
  step("$package shadow after");
  console.log(`  ${JSON.stringify(shadow.state.reported)} (version ${shadow.version})`);
  console.log(`  needs-demo-tool members after: ${membersAfter.join(", ") || "(none: the thing has the package now)"}`);
  console.log(`\nResult: ${execution.status}${details.reason ? ` (${details.reason})` : ""}`);
  if (execution.status !== "SUCCEEDED") throw new Error(`the job ended ${execution.status}`);
  if (shadow.state.reported?.["demo-tool"]?.version !== "1.0.0")
    throw new Error("$package does not list demo-tool 1.0.0");
}

/**
 * One S3 request, path-style, addressed to the s3 API by its SigV4 credential scope (the local
 * service checks no header signatures, only the pre-signed URLs it issues).
 */
async function s3(http: string, method: string, path: string, body?: string): Promise<void> {
  const date = new Date().toISOString().slice(0, 10).replaceAll("-", "");
  const r = await fetch(`${http}${path}`, {
    method,
    body,
    headers: {
      authorization: `AWS4-HMAC-SHA256 Credential=local/${date}/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0`,
    },
  });
  if (!r.ok) throw new Error(`S3 ${method} ${path}: ${r.status} ${await r.text()}`);
}

function step(title: string): void {
  console.log(`\n== ${title}`);
}

async function firstJsonLine(
  stream: ReadableStream<Uint8Array>,
): Promise<{ mqtts: string; http: string; rootCa: string }> {
  const reader = stream.getReader();
  let text = "";
  const timer = setTimeout(() => void reader.cancel(), 20_000);
  while (!text.includes("\n")) {
    const { done, value } = await reader.read();
    if (done) throw new Error("iot-jobs-local exited before it was ready");
    text += new TextDecoder().decode(value);
  }
  clearTimeout(timer);
  reader.releaseLock();
  return JSON.parse(text.split("\n")[0]!);
}

async function collectLines(stream: ReadableStream<Uint8Array>, into: string[]): Promise<void> {
  let partial = "";
  for await (const chunk of stream) {
    const lines = (partial + new TextDecoder().decode(chunk)).split("\n");
    partial = lines.pop()!;
    into.push(...lines.filter(Boolean));
  }
}

async function waitForTerminal(iot: Iot.IoTClient, jobId: string, thingName: string): Promise<Iot.JobExecution> {
  const until = Date.now() + 60_000;
  let last = "";
  for (;;) {
    const e = (await iot.send(new Iot.DescribeJobExecutionCommand({ jobId, thingName }))).execution!;
    if (e.status !== last) {
      last = e.status!;
      console.log(`  ${thingName}: ${last}`);
    }
    if (!["QUEUED", "IN_PROGRESS"].includes(e.status!)) return e;
    if (Date.now() > until)
      throw new Error(`the job is still ${e.status} after 60 s; agent log:\n${agentLog.slice(-20).join("\n")}`);
    await Bun.sleep(100);
  }
}

let code = 0;
try {
  await main();
} catch (error) {
  console.error(`\nDemo failed: ${(error as Error).message}`);
  code = 1;
} finally {
  for (const c of children.reverse()) c.kill("SIGTERM");
  await Promise.all(children.map((c) => c.exited));
  rmSync(work, { recursive: true, force: true });
}
process.exit(code);
