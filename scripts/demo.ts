/**
 * npm run demo: the whole loop on this machine, no network beyond loopback.
 *   1. iot-jobs-local serve (embedded broker, free ports) and a loopback "download location"
 *   2. a thing and its agent (bun src/main.ts) with the project's handlers
 *   3. package demo-tool 1.0.0 with url + sha256 attributes, published; Jobs may write $package
 *   4. a dynamic group of the things that do not have demo-tool 1.0.0
 *   5. a job from examples/package-deploy.json (substitution parameters +
 *      destinationPackageVersions) targeted at that group
 *   6. waits for SUCCEEDED and prints the job, the substituted document, each step's outcome and
 *      output tail, $package after, and the group after (the thing has left it).
 *   7. an AWS managed template job (AWS-Download-File, as most fleets get their jobs) fetching the
 *      same artifact into the work directory.
 * Exit 0 on success; non-zero with the reason otherwise. Everything goes through
 * @aws-sdk/client-iot and @aws-sdk/client-iot-data-plane, as it would against AWS.
 */
import * as Iot from "@aws-sdk/client-iot";
import { GetThingShadowCommand, IoTDataPlaneClient } from "@aws-sdk/client-iot-data-plane";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
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
  const downloads = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(artifact) });

  step("Starting iot-jobs-local (embedded broker, in-memory store)");
  const service = Bun.spawn([process.execPath, join(root, "src/service/main.ts"), "serve", "--mqtt-port", "0", "--http-port", "0", "--log-level", "WARN"], { stdout: "pipe", stderr: "inherit" });
  children.push(service);
  const { mqtt, http } = await firstJsonLine(service.stdout as ReadableStream<Uint8Array>);
  console.log(`  mqtt ${mqtt}   http ${http}`);
  const credentials = { accessKeyId: "local", secretAccessKey: "local" };
  const iot = new Iot.IoTClient({ endpoint: http, region: "us-east-1", credentials });
  const data = new IoTDataPlaneClient({ endpoint: http, region: "us-east-1", credentials });

  const thing = "demo-pi-1";
  step(`Registering ${thing} and starting its agent`);
  await iot.send(new Iot.CreateThingCommand({ thingName: thing, attributePayload: { attributes: { site: "desk" } } }));
  const agent = Bun.spawn(
    [process.execPath, join(root, "src/main.ts"), "--endpoint", mqtt, "--thing-name", thing, "--jobs-handler-dir", handlers, "--state-dir", join(work, "state"), "--log-level", "INFO"],
    { stdout: "pipe", stderr: "pipe", cwd: work },
  );
  children.push(agent);
  void collectLines(agent.stdout as ReadableStream<Uint8Array>, agentLog);
  void collectLines(agent.stderr as ReadableStream<Uint8Array>, agentLog);

  step("Creating package demo-tool, version 1.0.0 (url + sha256 attributes), publishing it");
  await iot.send(new Iot.CreatePackageCommand({ packageName: "demo-tool", description: "a demo artifact served on loopback" }));
  await iot.send(new Iot.CreatePackageVersionCommand({ packageName: "demo-tool", versionName: "1.0.0", attributes: { url: `http://127.0.0.1:${downloads.port}/demo-tool/1.0.0.bin`, sha256 } }));
  await iot.send(new Iot.UpdatePackageVersionCommand({ packageName: "demo-tool", versionName: "1.0.0", action: "PUBLISH" }));
  await iot.send(new Iot.UpdatePackageConfigurationCommand({ versionUpdateByJobsConfig: { enabled: true, roleArn: "arn:aws:iam::123456789012:role/demo-jobs-package-shadow" } }));

  const query = "thingName:demo-* AND NOT shadow.name.$package.reported.demo\\-tool.version:1.0.0";
  step(`Creating dynamic group needs-demo-tool: ${query}`);
  await iot.send(new Iot.CreateDynamicThingGroupCommand({ thingGroupName: "needs-demo-tool", queryString: query }));
  console.log(`  members: ${(await iot.send(new Iot.ListThingsInThingGroupCommand({ thingGroupName: "needs-demo-tool" }))).things?.join(", ") || "(none)"}`);

  step("Creating job deploy-demo-tool-1_0_0 from examples/package-deploy.json");
  const document = readFileSync(join(root, "examples/package-deploy.json"), "utf8");
  const created = await iot.send(
    new Iot.CreateJobCommand({
      jobId: "deploy-demo-tool-1_0_0",
      targets: ["arn:aws:iot:us-east-1:123456789012:thinggroup/needs-demo-tool"],
      document,
      destinationPackageVersions: ["arn:aws:iot:us-east-1:123456789012:package/demo-tool/version/1.0.0"],
      description: "Install demo-tool 1.0.0 where it is missing",
    }),
  );
  console.log(`  ${created.jobArn}`);

  const execution = await waitForTerminal(iot, created.jobId!, thing);
  const job = (await iot.send(new Iot.DescribeJobCommand({ jobId: created.jobId! }))).job!;
  const deployed = (await iot.send(new Iot.GetJobDocumentCommand({ jobId: created.jobId! }))).document!;
  const shadow = JSON.parse(new TextDecoder().decode((await data.send(new GetThingShadowCommand({ thingName: thing, shadowName: "$package" }))).payload));
  const membersAfter = (await iot.send(new Iot.ListThingsInThingGroupCommand({ thingGroupName: "needs-demo-tool" }))).things ?? [];

  step("Creating job fetch-demo-tool from the AWS managed template AWS-Download-File");
  const fetched = join(work, "fetched-demo-tool.bin");
  await iot.send(
    new Iot.CreateJobCommand({
      jobId: "fetch-demo-tool",
      targets: [`arn:aws:iot:us-east-1:123456789012:thing/${thing}`],
      jobTemplateArn: "arn:aws:iot:us-east-1::jobtemplate/AWS-Download-File:1.0",
      documentParameters: { downloadUrl: `http://127.0.0.1:${downloads.port}/demo-tool/1.0.0.bin`, filePath: fetched },
    }),
  );
  const managed = await waitForTerminal(iot, "fetch-demo-tool", thing);
  const managedDoc = JSON.parse((await iot.send(new Iot.GetJobDocumentCommand({ jobId: "fetch-demo-tool" }))).document!);
  console.log(`  delivered: ${JSON.stringify(managedDoc.steps[0].action)}`);
  const fetchedSha = createHash("sha256").update(readFileSync(fetched)).digest("hex");
  console.log(`  ${fetched}: sha256 ${fetchedSha === sha256 ? "matches" : "DOES NOT match"} the package version's`);
  downloads.stop(true);
  if (managed.status !== "SUCCEEDED" || fetchedSha !== sha256) throw new Error(`the managed-template job ended ${managed.status}`);

  step("Job");
  console.log(`  ${job.jobId}: ${job.status}, targets ${job.targets?.join(", ")}`);
  console.log(`  destinationPackageVersions: ${job.destinationPackageVersions?.join(", ")}`);
  step("Document as the device received it (substituted)");
  for (const s of JSON.parse(deployed).steps.concat([JSON.parse(deployed).finalStep])) console.log(`  ${s.action.name}: ${JSON.stringify(s.action.input)}`);
  step(`Steps on ${thing}`);
  for (const line of agentLog) {
    try {
      const entry = JSON.parse(line) as { msg: string; step?: string; succeeded?: boolean; reason?: string };
      if (entry.msg === "Step ended") console.log(`  ${entry.succeeded ? "ok  " : "FAIL"} ${entry.step}: ${entry.reason}`);
    } catch {
      // not a log record
    }
  }
  const details = execution.statusDetails?.detailsMap ?? {};
  console.log("  output tail (stdout):");
  for (const l of (details.stdout ?? "").trimEnd().split("\n").slice(-6)) console.log(`    | ${l}`);
  if (details.stderr) console.log(`  stderr tail:\n${details.stderr.trimEnd().split("\n").slice(-6).map((l) => `    | ${l}`).join("\n")}`);
  step("$package shadow after");
  console.log(`  ${JSON.stringify(shadow.state.reported)} (version ${shadow.version})`);
  console.log(`  needs-demo-tool members after: ${membersAfter.join(", ") || "(none: the thing has the package now)"}`);
  console.log(`\nResult: ${execution.status}${details.reason ? ` (${details.reason})` : ""}`);
  if (execution.status !== "SUCCEEDED") throw new Error(`the job ended ${execution.status}`);
  if (shadow.state.reported?.["demo-tool"]?.version !== "1.0.0") throw new Error("$package does not list demo-tool 1.0.0");
}

function step(title: string): void {
  console.log(`\n== ${title}`);
}

async function firstJsonLine(stream: ReadableStream<Uint8Array>): Promise<{ mqtt: string; http: string }> {
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
    if (e.status !== last) console.log(`  ${thingName}: ${(last = e.status!)}`);
    if (!["QUEUED", "IN_PROGRESS"].includes(e.status!)) return e;
    if (Date.now() > until) throw new Error(`the job is still ${e.status} after 60 s; agent log:\n${agentLog.slice(-20).join("\n")}`);
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
