/**
 * Mutual TLS against plain MQTT on the local service (bun bench/mtls-connect.ts [N], default 10000).
 *
 * For each listener, a fresh `iot-jobs-local serve` (in-memory store): N things, 20 certificates
 * from CreateKeysAndCertificate each attached to N/20 of them with the minimum Jobs policy, then N
 * connections from this process (our own MQTT client), each CONNECT + SUBSCRIBE notify-next.
 * Measured per thing: connect + subscribe time (median, p99) and the wall time for all N (200 at
 * a time); the service's RSS once all are connected. Baseline in the same run: the same N over the
 * plain listener (open mode, no certificate, no policy).
 */
import {
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  IoTClient,
} from "@aws-sdk/client-iot";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MqttClient } from "../src/mqtt/client.ts";

const n = Number(process.argv[2] ?? 10_000);
const root = join(import.meta.dir, "..");
const CERTIFICATES = 20;

function rssMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;
}

async function startService() {
  const proc = Bun.spawn(
    [
      process.execPath,
      join(root, "src/service/main.ts"),
      "serve",
      "--mqtt-port",
      "0",
      "--http-port",
      "0",
      "--log-level",
      "ERROR",
    ],
    { stdout: "pipe", stderr: "inherit" },
  );
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  let text = "";
  while (!text.includes("\n")) text += new TextDecoder().decode((await reader.read()).value);
  reader.releaseLock();
  return {
    ...(JSON.parse(text.split("\n")[0]!) as { mqtt: string; http: string; mqtts: string; rootCa: string }),
    proc,
  };
}

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

const policy = (() => {
  const arn = "arn:aws:iot:us-east-1:123456789012";
  const jobs = "$aws/things/${iot:Connection.Thing.ThingName}/jobs";
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      { Effect: "Allow", Action: "iot:Connect", Resource: `${arn}:client/\${iot:Connection.Thing.ThingName}` },
      {
        Effect: "Allow",
        Action: "iot:Publish",
        Resource: [`${arn}:topic/${jobs}/start-next`, `${arn}:topic/${jobs}/*/update`],
      },
      { Effect: "Allow", Action: "iot:Subscribe", Resource: [`${arn}:topicfilter/${jobs}/notify-next`] },
      { Effect: "Allow", Action: "iot:Receive", Resource: [`${arn}:topic/${jobs}/notify-next`] },
    ],
  });
})();

async function run(tls: boolean) {
  const svc = await startService();
  const iot = new IoTClient({
    endpoint: svc.http,
    region: "us-east-1",
    credentials: { accessKeyId: "x", secretAccessKey: "x" },
    maxAttempts: 1,
  });
  const names = Array.from({ length: n }, (_, i) => `bench-${String(i).padStart(5, "0")}`);
  await pool(names, 64, async (thingName) => {
    const r = await fetch(`${svc.http}/things/${thingName}`, { method: "POST", body: "{}" });
    if (!r.ok) throw new Error(await r.text());
  });
  const creds: { cert: Buffer; key: Buffer }[] = [];
  if (tls) {
    await iot.send(new CreatePolicyCommand({ policyName: "bench", policyDocument: policy }));
    for (let i = 0; i < CERTIFICATES; i++) {
      const c = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
      await iot.send(new AttachPolicyCommand({ policyName: "bench", target: c.certificateArn! }));
      creds.push({ cert: Buffer.from(c.certificatePem!), key: Buffer.from(c.keyPair!.PrivateKey!) });
      for (let t = i; t < n; t += CERTIFICATES)
        await iot.send(new AttachThingPrincipalCommand({ thingName: names[t]!, principal: c.certificateArn! }));
    }
  }
  const ca = tls ? readFileSync(svc.rootCa) : undefined;
  const url = new URL(tls ? svc.mqtts : svc.mqtt);
  const before = rssMb(svc.proc.pid);
  const times: number[] = [];
  const clients: MqttClient[] = [];
  const t0 = performance.now();
  await pool(
    names.map((name, i) => ({ name, i })),
    200,
    async ({ name, i }) => {
      const start = performance.now();
      let client!: MqttClient;
      const connected = new Promise<void>((resolve, reject) => {
        client = new MqttClient(
          {
            host: "127.0.0.1",
            port: Number(url.port),
            clientId: name,
            cleanSession: true,
            keepaliveSeconds: 600,
            connectTimeoutMs: 60_000,
            reconnectDelayMs: () => 3_600_000,
            ...(tls ? { tls: { ...creds[i % CERTIFICATES]!, ca, serverName: "localhost" } } : {}),
          },
          { connect: () => resolve(), error: (reason) => reject(new Error(`${name}: ${reason}`)) },
        );
      });
      clients.push(client);
      await connected;
      const granted = await client.subscribe([`$aws/things/${name}/jobs/notify-next`]);
      if (granted[0] === 0x80) throw new Error(`${name}: subscription refused`);
      times.push(performance.now() - start);
    },
  );
  const wallMs = performance.now() - t0;
  await Bun.sleep(500);
  const after = rssMb(svc.proc.pid);
  for (const c of clients) c.close(false);
  svc.proc.kill("SIGKILL");
  await svc.proc.exited;
  times.sort((a, b) => a - b);
  return {
    wallMs,
    median: times[Math.floor(times.length / 2)]!,
    p99: times[Math.floor(times.length * 0.99)]!,
    before,
    after,
  };
}

console.log(`connect + subscribe, ${n} things, 200 at a time, client and service on one 2-core machine`);
console.log(
  "| listener | all connected (wall) | per thing, median | p99 | service RSS before | connected | per connection |",
);
console.log("|---|---:|---:|---:|---:|---:|---:|");
for (const tls of [false, true]) {
  const r = await run(tls);
  const per = ((r.after - r.before) * 1024) / n;
  const cells = [
    tls ? "mutual TLS + policy" : "plain (open mode)",
    `${(r.wallMs / 1000).toFixed(1)} s`,
    `${r.median.toFixed(1)} ms`,
    `${r.p99.toFixed(1)} ms`,
    `${r.before.toFixed(0)} MB`,
    `${r.after.toFixed(0)} MB`,
    `${per.toFixed(1)} KB`,
  ];
  console.log(`| ${cells.join(" | ")} |`);
}
