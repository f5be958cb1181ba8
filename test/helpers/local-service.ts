import mqtt from "mqtt";
import { IoTClient } from "@aws-sdk/client-iot";
import { IoTDataPlaneClient } from "@aws-sdk/client-iot-data-plane";
import { createLogger } from "../../src/log/logger.ts";
import { type RunningService, startService } from "../../src/service/service.ts";
import type { Clock } from "../../src/util/clock.ts";

/** The local service in this process on free ports, with an in-memory store unless `dataDir`. */
export async function startLocalService(
  options: { dataDir?: string; minuteMs?: number; broker?: string; clock?: Clock } = {},
): Promise<RunningService> {
  return startService({
    dataDir: options.dataDir,
    host: "127.0.0.1",
    mqttPort: 0,
    httpPort: 0,
    minuteMs: options.minuteMs,
    broker: options.broker,
    clock: options.clock,
    log: createLogger({ level: "ERROR", type: "stdout", fd: 2 }),
  });
}

const credentials = { accessKeyId: "local", secretAccessKey: "local" };

/** The environment the AWS CLI runs in against the local service: its credentials and region, no
 * user config or pager (what a user's ~/.aws holds must not change a test). */
export const awsCliEnv = (): Record<string, string | undefined> => ({
  ...process.env,
  AWS_ACCESS_KEY_ID: credentials.accessKeyId,
  AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
  AWS_DEFAULT_REGION: "us-east-1",
  AWS_CONFIG_FILE: "/dev/null",
  AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
  AWS_PAGER: "",
});
export const iotClient = (http: string) =>
  new IoTClient({ endpoint: http, region: "us-east-1", credentials, maxAttempts: 1 });
export const dataClient = (http: string) =>
  new IoTDataPlaneClient({ endpoint: http, region: "us-east-1", credentials, maxAttempts: 1 });

export const thingArn = (name: string) => `arn:aws:iot:us-east-1:123456789012:thing/${name}`;
export const groupArn = (name: string) => `arn:aws:iot:us-east-1:123456789012:thinggroup/${name}`;
export const versionArn = (p: string, v: string) => `arn:aws:iot:us-east-1:123456789012:package/${p}/version/${v}`;

/** An MQTT device (mqtt.js) that records every message it gets. */
export class Device {
  readonly messages: { topic: string; payload: any }[] = [];
  private constructor(
    readonly thing: string,
    readonly client: mqtt.MqttClient,
  ) {
    client.on("message", (topic, payload) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(payload.toString());
      } catch {
        parsed = payload.toString();
      }
      this.messages.push({ topic, payload: parsed });
    });
  }

  static async connect(url: string, thing: string, subscribe: string[] = []): Promise<Device> {
    const client = await mqtt.connectAsync(url, { clientId: thing, reconnectPeriod: 0, clean: true });
    const d = new Device(thing, client);
    if (subscribe.length)
      await client.subscribeAsync(
        subscribe.map((s) => s.replace("{thing}", thing)),
        { qos: 1 },
      );
    return d;
  }

  get prefix(): string {
    return `$aws/things/${this.thing}`;
  }

  async publish(suffix: string, body: unknown): Promise<void> {
    const payload =
      typeof body === "string" ? body : body instanceof Uint8Array ? Buffer.from(body) : JSON.stringify(body);
    await this.client.publishAsync(`${this.prefix}/${suffix}`, payload, { qos: 1 });
  }

  /** Publishes a request and waits for its accepted or rejected reply. */
  async request(suffix: string, body: unknown = {}): Promise<{ topic: string; payload: any }> {
    const start = this.messages.length;
    await this.publish(suffix, body);
    return this.waitFor(
      (m) => m.topic === `${this.prefix}/${suffix}/accepted` || m.topic === `${this.prefix}/${suffix}/rejected`,
      start,
    );
  }

  async waitFor(
    match: (m: { topic: string; payload: any }) => boolean,
    from = 0,
    timeoutMs = 5000,
  ): Promise<{ topic: string; payload: any }> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.slice(from).find(match);
      if (found) return found;
      if (Date.now() > until)
        throw new Error(
          `${this.thing}: no matching message; got ${JSON.stringify(this.messages.slice(from).map((m) => m.topic))}`,
        );
      await Bun.sleep(10);
    }
  }

  topics(from = 0): string[] {
    return this.messages.slice(from).map((m) => m.topic.slice(this.prefix.length + 1));
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}
