import { describe, expect, test } from "bun:test";
import { redactSecrets } from "../../src/util/redact.ts";

describe("redactSecrets: PEM material", () => {
  test("whole keys and certificates, and the end of a key cut by the output tail", () => {
    expect(redactSecrets("a -----BEGIN EC PRIVATE KEY-----\nMHcCAQ==\n-----END EC PRIVATE KEY----- b")).toBe("a -----BEGIN EC PRIVATE KEY-----[REDACTED] b");
    expect(redactSecrets("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----")).toBe("-----BEGIN CERTIFICATE-----[REDACTED]");
    expect(redactSecrets("xYz+/==\nQWERTY\n-----END PRIVATE KEY-----\nnext line")).toBe("[REDACTED]-----END PRIVATE KEY-----\nnext line");
    expect(redactSecrets("kept: -----END PRIVATE KEY-----")).toBe("kept: -----END PRIVATE KEY-----"); // no base64 before the marker
    expect(redactSecrets("no markers here")).toBe("no markers here");
  });

  test("regression (found by the fuzz tests): linear on long base64-like runs (8 MiB in well under the quadratic minutes)", () => {
    const big = "A".repeat(8 << 20) + "-----END PRIVATE KEY-----";
    const t0 = performance.now();
    expect(redactSecrets(big)).toBe("[REDACTED]-----END PRIVATE KEY-----");
    expect(performance.now() - t0).toBeLessThan(5000);
  });
});
