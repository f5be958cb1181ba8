import { describe, expect, test } from "bun:test";
import { redactSecrets } from "../../src/util/redact.ts";

describe("redactSecrets: PEM material", () => {
  test("whole keys and certificates, and the end of a key cut by the output tail", () => {
    expect(redactSecrets("a -----BEGIN EC PRIVATE KEY-----\nMHcCAQ==\n-----END EC PRIVATE KEY----- b")).toBe(
      "a -----BEGIN EC PRIVATE KEY-----[REDACTED] b",
    );
    expect(redactSecrets("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----")).toBe(
      "-----BEGIN CERTIFICATE-----[REDACTED]",
    );
    expect(redactSecrets("xYz+/==\nQWERTY\n-----END PRIVATE KEY-----\nnext line")).toBe(
      "[REDACTED]-----END PRIVATE KEY-----\nnext line",
    );
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

describe("redactSecrets: every encoding [redteam 11]", () => {
  const cases: [string, string, string][] = [
    [
      "plain query",
      "https://b/f?X-Amz-Credential=AKIA%2F2025&X-Amz-Signature=SIG1",
      "https://b/f?X-Amz-Credential=[REDACTED]&X-Amz-Signature=[REDACTED]",
    ],
    [
      "JSON-escaped &",
      '{"u":"https:\\/\\/b\\/f?a=1\\u0026X-Amz-Credential=AKIA\\/2025\\u0026X-Amz-Signature=SIG2"}',
      '{"u":"https:\\/\\/b\\/f?a=1\\u0026X-Amz-Credential=[REDACTED]\\u0026X-Amz-Signature=[REDACTED]"}',
    ],
    [
      "HTML-escaped &",
      '<a href="https://b/f?A=1&amp;X-Amz-Signature=SIG3">',
      '<a href="https://b/f?A=1&amp;X-Amz-Signature=[REDACTED]">',
    ],
    [
      "URL-encoded inner URL",
      "https://p/?t=https%3A%2F%2Fb%2Ff%3FX-Amz-Signature%3DSIG4%26X-Amz-Security-Token%3DTOK%252B4",
      "https://p/?t=https%3A%2F%2Fb%2Ff%3FX-Amz-Signature%3D[REDACTED]%26X-Amz-Security-Token%3D[REDACTED]",
    ],
    [
      "encoded ? before the name",
      "https://p/?t=https%3A%2F%2Fb%2Ff%3fX-Amz-Signature%3DSIG5",
      "https://p/?t=https%3A%2F%2Fb%2Ff%3fX-Amz-Signature%3D[REDACTED]",
    ],
    [
      "SigV4 Authorization",
      "Authorization: AWS4-HMAC-SHA256 Credential=AKIA6/20250101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=SIG6",
      "Authorization: AWS4-HMAC-SHA256 Credential=[REDACTED], SignedHeaders=host, Signature=[REDACTED]",
    ],
    [
      "X-Amz headers",
      "> X-Amz-Security-Token: TOK7\n> x-amz-credential:AKIA7/x",
      "> X-Amz-Security-Token: [REDACTED]\n> x-amz-credential:[REDACTED]",
    ],
    ["bearer", "Authorization: Bearer eyJhbGciOi.x.y", "Authorization: Bearer [REDACTED]"],
    [
      "env dump",
      "AWS_SECRET_ACCESS_KEY=wJalr/K7+8\nAWS_SESSION_TOKEN=IQo+9==",
      "AWS_SECRET_ACCESS_KEY=[REDACTED]\nAWS_SESSION_TOKEN=[REDACTED]",
    ],
    ["credentials file", "aws_secret_access_key = wJalr10", "aws_secret_access_key = [REDACTED]"],
    [
      "aws sts JSON",
      '{"SecretAccessKey": "wJalr11", "SessionToken": "IQo11"}',
      '{"SecretAccessKey": "[REDACTED]", "SessionToken": "[REDACTED]"}',
    ],
    [
      "OAuth fragment and other secrets",
      "https://app/#access_token=AT12&x=1 password=pw12 client_secret=cs12",
      "https://app/#access_token=[REDACTED]&x=1 password=[REDACTED] client_secret=[REDACTED]",
    ],
  ];
  for (const [name, input, expected] of cases) {
    test(`redteam 11: ${name}`, () => expect(redactSecrets(input)).toBe(expected));
  }

  test("redteam 11: ordinary words are kept", () => {
    const text = "signature verified; tokens: 3; X-Amz-Algorithm=AWS4-HMAC-SHA256; SignedHeaders=host";
    expect(redactSecrets(text)).toBe(text);
  });

  test("redteam 11: still linear on adversarial runs of every pattern's prefix (8 MiB each)", () => {
    for (const unit of [
      "%26sig%3D",
      "\\u0026token=",
      "&amp;",
      "X-Amz-Security-Token ",
      "aws_session_token   ",
      "Signature=%",
      "%%%%",
      "\\\\/",
    ]) {
      const text = unit.repeat(Math.ceil((8 << 20) / unit.length));
      const t0 = performance.now();
      redactSecrets(text);
      expect([unit, performance.now() - t0 < 5000]).toEqual([unit, true]);
    }
  });
});

describe("redaction gaps found by the review of the fixes", () => {
  const cases: [string, string][] = [
    ["a signature as a JSON key", `{"X-Amz-Signature": "abcdef0123456789"}`],
    ["a signature as a Python dict key", `{'X-Amz-Signature': 'abcdef0123456789'}`],
    [
      "a signature URL-encoded twice",
      `https://p/?u=https%3A%2F%2Fb%3FX%253Dq%2526X-Amz-Signature%253Dabcdef0123456789%2526n%253D1`,
    ],
    [
      "a Google Cloud Storage signature",
      `https://storage.googleapis.com/b/o?X-Goog-Algorithm=GOOG4&X-Goog-Signature=abcdef0123456789`,
    ],
    ["a password in a URL", `fetching https://user:abcdef0123456789@host.example/path`],
  ];
  for (const [what, text] of cases) {
    test(`redteam 11: ${what} is redacted`, () => {
      const out = redactSecrets(text);
      expect(out).not.toContain("abcdef0123456789");
      expect(out).toContain("[REDACTED]");
    });
  }

  test("what is not a secret stays", () => {
    for (const text of ["plain https://host/path?a=1 and 10:20@x", `{"name": "value"}`, "user@host:22"])
      expect(redactSecrets(text)).toBe(text);
  });
});
