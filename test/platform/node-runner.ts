/**
 * Runs the platform contract against the Node adapter inside Node itself (bundled for Node by
 * platform.test.ts): one JSON line per case on stdout.
 */
import { platform } from "../../src/platform/node.ts";
import { NODE_ONLY_CASES } from "./node-only-cases.ts";
import { type ContractPki, platformContract } from "./platform-contract.ts";

const pki = process.env.PLATFORM_PKI ? (JSON.parse(process.env.PLATFORM_PKI) as ContractPki) : undefined;
for (const c of [...platformContract(platform, pki), ...NODE_ONLY_CASES]) {
  if (c.skip) {
    process.stdout.write(`${JSON.stringify({ name: c.name, skip: c.skip })}\n`);
    continue;
  }
  try {
    await c.run();
    process.stdout.write(`${JSON.stringify({ name: c.name, ok: true })}\n`);
  } catch (error) {
    process.stdout.write(
      `${JSON.stringify({ name: c.name, ok: false, error: String((error as Error)?.stack ?? error) })}\n`,
    );
  }
}
