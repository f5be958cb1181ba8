/**
 * Reports the package inventory file to the thing's `$package` shadow over MQTT — at start and
 * after every SUCCEEDED job — for fleets whose jobs are not set up to update that shadow
 * themselves (versionUpdateByJobsConfig). Never fatal: a missing or bad file is logged.
 */
import { readFileSync } from "node:fs";
import type { Logger } from "../log/logger.ts";
import type { Connection } from "../mqtt/connection.ts";
import { PACKAGE_SHADOW_NAME } from "../protocol/ids.ts";
import { shadowPrefix, shadowTopic } from "../protocol/topics.ts";
import { newClientToken } from "./client-token.ts";
import { parseInventory, reportedState } from "./package-inventory.ts";

const REPLY_TIMEOUT_MS = 10_000;

export class PackageReporter {
  private readonly prefix: string;
  private readonly thingName: string;
  private readonly waiters = new Map<string, (reply: { accepted: boolean; body: Record<string, unknown> }) => void>();
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly connection: Connection,
    thingName: string,
    private readonly file: string,
    private readonly log: Logger,
  ) {
    this.thingName = thingName;
    this.prefix = shadowPrefix(thingName, PACKAGE_SHADOW_NAME);
    connection.onMessage((topic, payload) => {
      if (!topic.startsWith(`${this.prefix}/`)) return;
      const accepted = topic.endsWith("/accepted");
      if (!accepted && !topic.endsWith("/rejected")) return;
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
      } catch {
        return;
      }
      const token = typeof body.clientToken === "string" ? body.clientToken : undefined;
      const waiter = token ? this.waiters.get(token) : undefined;
      if (waiter) {
        this.waiters.delete(token!);
        waiter({ accepted, body });
      }
    });
  }

  /** The shadow's reply topics; call on every connect that lost the session. */
  subscribe(): Promise<void> {
    return this.connection.subscribe([`${this.prefix}/get/+`, `${this.prefix}/update/+`]);
  }

  /** Queues a report (reports never overlap). */
  report(): Promise<void> {
    this.chain = this.chain
      .then(() => this.reportNow())
      .catch((error) => this.log.warn({ err: error }, "Reporting the package inventory failed"));
    return this.chain;
  }

  private async reportNow(): Promise<void> {
    let text: string;
    try {
      text = readFileSync(this.file, "utf8");
    } catch (error) {
      return void this.log.warn(
        { file: this.file, code: (error as NodeJS.ErrnoException).code },
        "Cannot read the package inventory; $package not reported",
      );
    }
    const parsed = parseInventory(text);
    if (!parsed.ok)
      return void this.log.warn(
        { file: this.file, reason: parsed.reason },
        "The package inventory is invalid; $package not reported",
      );
    // What the shadow lists now, so packages no longer installed can be removed from it.
    const current = await this.request("get", {});
    const reported = current?.accepted
      ? Object.keys(((current.body.state as { reported?: object } | undefined)?.reported ?? {}) as object)
      : [];
    const result = await this.request("update", { state: { reported: reportedState(parsed.inventory, reported) } });
    if (!result) this.log.warn("No answer from the shadow service to the $package update");
    else if (!result.accepted)
      this.log.warn({ code: result.body.code, message: result.body.message }, "The $package update was rejected");
    else this.log.info({ packages: [...parsed.inventory.keys()] }, "Reported installed packages to $package");
  }

  private async request(
    op: "get" | "update",
    body: Record<string, unknown>,
  ): Promise<{ accepted: boolean; body: Record<string, unknown> } | undefined> {
    const clientToken = newClientToken(16);
    const reply = new Promise<{ accepted: boolean; body: Record<string, unknown> } | undefined>((resolve) => {
      const timer = setTimeout(() => (this.waiters.delete(clientToken), resolve(undefined)), REPLY_TIMEOUT_MS);
      this.waiters.set(clientToken, (r) => (clearTimeout(timer), resolve(r)));
    });
    await this.connection.publish(
      shadowTopic(this.thingName, PACKAGE_SHADOW_NAME, op),
      JSON.stringify({ ...body, clientToken }),
    );
    return reply;
  }
}
