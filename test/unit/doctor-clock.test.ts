/**
 * doctor's clock check and the certificate's validity, both judged at an injected time: a device whose
 * clock is wrong (a Pi without RTC before NTP: 1970, or the image's build date) gets a FAIL naming the
 * clock and the fix, and its certificate is reported "not valid before" rather than a TLS mystery.
 */
import { describe, expect, test } from "bun:test";
import { clockCheck, credentialChecks } from "../../src/doctor/local-checks.ts";
import type { AgentConfig } from "../../src/config/schema.ts";
import { makeTestPki } from "../helpers/certs.ts";

const FIX = "set the time (timedatectl set-ntp true, or ntpdate/chrony); TLS fails on a wrong clock";

describe("doctor clock", () => {
  test("a clock at the epoch (no RTC, no NTP yet): FAIL with the time it says and the fix", () => {
    expect(clockCheck(0)).toEqual({
      verdict: "fail",
      check: "clock",
      detail: "the clock says 1970-01-01T00:00:00.000Z",
      fix: FIX,
    });
  });

  test("the last millisecond before 2025 fails; 2025-01-01 and today pass", () => {
    expect(clockCheck(Date.UTC(2025, 0, 1) - 1).verdict).toBe("fail");
    expect(clockCheck(Date.UTC(2025, 0, 1))).toEqual({
      verdict: "ok",
      check: "clock",
      detail: "2025-01-01T00:00:00.000Z",
    });
    const now = Date.now();
    expect(clockCheck(now)).toEqual({ verdict: "ok", check: "clock", detail: new Date(now).toISOString() });
  });

  test("a clock before the certificate's validity: the certificate line says so and points at the clock", () => {
    const pki = makeTestPki();
    const config = { cert: pki.clientCert, key: pki.clientKey, rootCa: pki.caCert } as unknown as AgentConfig;
    const early = credentialChecks(config, Date.UTC(2001, 0, 1)).find((l) => l.check === "certificate");
    expect(early).toMatchObject({
      verdict: "fail",
      detail: expect.stringContaining(`${pki.clientCert} is not valid before`),
      fix: "check the device clock, or use a certificate already valid",
    });
    const today = credentialChecks(config, Date.now()).find((l) => l.check === "certificate");
    expect(today?.verdict).toBe("ok");
  });
});
