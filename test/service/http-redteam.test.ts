/**
 * Regressions for the red team's HTTP defects (redteam-service 12, 14, 18, 19), each against a
 * real `iot-jobs-local serve` process with real clients: curl, the AWS CLI, fetch and raw sockets.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { spawnService } from "../helpers/executables.ts";
import { tempDir } from "../helpers/temp.ts";
import { awsCliEnv } from "../helpers/local-service.ts";

const ROOT = join(import.meta.dir, "..", "..");
const A = "arn:aws:iot:us-east-1:123456789012";
const DOC = JSON.stringify({
  version: "1.0",
  steps: [{ action: { name: "x", type: "runCommand", input: { command: "id" } } }],
});

let svc: Awaited<ReturnType<typeof spawnService>>;
let port: number;
beforeAll(async () => {
  svc = await spawnService([process.execPath, join(ROOT, "src/service/main.ts")], ["--log-level", "ERROR"]);
  port = Number(new URL(svc.http).port);
  await call("POST", "/things/kiosk-7", "{}");
  await call("PUT", "/jobs/j-1", JSON.stringify({ targets: [`${A}:thing/kiosk-7`], document: DOC }));
});
afterAll(async () => {
  await svc.stop();
});

async function call(method: string, path: string, body?: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${svc.http}${path}`, {
    method,
    body,
    headers: { "content-type": "application/json", ...headers },
  });
  return { status: res.status, type: res.headers.get("x-amzn-errortype"), body: (await res.json()) as any };
}

/** curl with extra arguments; returns the status code and the body. */
function curl(args: string[]): { status: number; body: string } {
  const r = Bun.spawnSync(["curl", "-s", "-w", "\n%{http_code}", ...args], { stdout: "pipe", stderr: "pipe" });
  const text = r.stdout.toString();
  const cut = text.lastIndexOf("\n");
  return { status: Number(text.slice(cut + 1)), body: text.slice(0, cut) };
}

/** Sends raw bytes and resolves with the first response bytes (the status line onwards). */
function raw(
  request: string | ((write: (b: string | Uint8Array) => boolean) => void),
  timeoutMs = 5000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let got = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer; got ${JSON.stringify(got)}`));
    }, timeoutMs);
    socket.on("data", (d) => {
      got += d.toString("latin1");
      if (!got.includes("\r\n\r\n")) return;
      clearTimeout(timer);
      socket.destroy();
      resolve(got);
    });
    socket.on("error", () => {});
    socket.on("connect", () => (typeof request === "string" ? socket.write(request) : request((b) => socket.write(b))));
  });
}

const shadowDesired = async () => (await call("GET", "/things/kiosk-7/shadow")).body?.state?.desired;

describe("redteam-service 12: browser CSRF and DNS rebinding", () => {
  test("redteam-service 12: a text/plain cross-origin POST is refused", async () => {
    const r = curl([
      "-X",
      "POST",
      `${svc.http}/things/kiosk-7/shadow`,
      "-H",
      "Content-Type: text/plain;charset=UTF-8",
      "-H",
      "Origin: http://attacker.test",
      "--data",
      '{"state":{"desired":{"mode":"owned"}}}',
    ]);
    expect(r.status).toBe(401);
    expect(await shadowDesired()).toBeUndefined();
    // Without an Origin (a form, a no-cors fetch from an old browser) text/plain is refused too.
    const plain = curl(["-X", "POST", `${svc.http}/things/foreign`, "-H", "Content-Type: text/plain", "--data", "{}"]);
    expect(plain.status).toBe(400);
    expect(plain.body).toContain("text/plain");
    expect((await call("GET", "/things/foreign")).status).toBe(404);
  });

  test("redteam-service 12: a form-encoded write is refused (curl -d's default type)", async () => {
    const r = curl(["-X", "POST", `${svc.http}/things/foreign`, "--data", "{}"]);
    expect(r.status).toBe(400);
    expect(r.body).toContain("application/x-www-form-urlencoded");
    expect((await call("GET", "/things/foreign")).status).toBe(404);
  });

  test("redteam-service 12: a JSON write from another web origin is refused; the service's own origin may write", async () => {
    const evil = await call("POST", "/things/foreign", "{}", { origin: "http://127.0.0.1:3000" });
    expect([evil.status, evil.type]).toEqual([401, "UnauthorizedException"]);
    const own = await call("POST", "/things/own-origin", "{}", { origin: `http://127.0.0.1:${port}` });
    expect(own.status).toBe(200);
  });

  test("redteam-service 12: a CORS preflight gets no permission (no Access-Control-* headers)", () => {
    const r = Bun.spawnSync(
      [
        "curl",
        "-s",
        "-D",
        "-",
        "-o",
        "/dev/null",
        "-X",
        "OPTIONS",
        `${svc.http}/jobs/j-1`,
        "-H",
        "Origin: http://attacker.test",
        "-H",
        "Access-Control-Request-Method: PUT",
      ],
      { stdout: "pipe" },
    );
    const head = r.stdout.toString();
    expect(head).toMatch(/^HTTP\/1\.1 405 /);
    expect(head.toLowerCase()).not.toContain("access-control-");
  });

  test("redteam-service 12: a DNS-rebinding Host is refused for reads and writes (CreateJob of a runCommand document)", async () => {
    const job = curl([
      "-X",
      "PUT",
      `${svc.http}/jobs/rebound`,
      "-H",
      "Host: rebind.attacker.test:8080",
      "-H",
      "Content-Type: application/json",
      "--data",
      JSON.stringify({ targets: [`${A}:thing/kiosk-7`], document: DOC }),
    ]);
    expect(job.status).toBe(400);
    expect(job.body).toContain("rebind.attacker.test");
    expect((await call("GET", "/jobs/rebound")).status).toBe(404);
    expect(curl(["-H", "Host: rebind.attacker.test:8080", `${svc.http}/things`]).status).toBe(400);
    expect(curl(["-H", `Host: localhost:${port}`, `${svc.http}/things`]).status).toBe(200);
  });

  test("redteam-service 12: a host name given with --http-host-name is served", async () => {
    const named = await spawnService(
      [process.execPath, join(ROOT, "src/service/main.ts")],
      ["--log-level", "ERROR", "--http-host-name", "gateway.lan"],
    );
    try {
      expect(curl(["-H", "Host: gateway.lan:8080", `${named.http}/things`]).status).toBe(200);
      expect(curl(["-H", "Host: other.lan:8080", `${named.http}/things`]).status).toBe(400);
    } finally {
      await named.stop();
    }
  });

  const hasCli = Bun.spawnSync(["aws", "--version"], { stdout: "pipe", stderr: "pipe" }).exitCode === 0;
  test.skipIf(!hasCli)(
    "redteam-service 12: the AWS CLI keeps working (iot JSON and the iot-data blob payload)",
    () => {
      const dir = tempDir("cli");
      const env = awsCliEnv();
      const aws = (...args: string[]) =>
        Bun.spawnSync(["aws", "--endpoint-url", svc.http, "--output", "json", ...args], {
          env,
          stdout: "pipe",
          stderr: "pipe",
        });
      const created = aws(
        "iot",
        "create-thing",
        "--thing-name",
        "cli-thing",
        "--attribute-payload",
        '{"attributes":{"site":"lab"}}',
      );
      expect(created.stderr.toString()).toBe("");
      expect(JSON.parse(created.stdout.toString()).thingName).toBe("cli-thing");
      const out = join(dir, "shadow.json");
      const payload = join(dir, "payload.json");
      writeFileSync(payload, '{"state":{"reported":{"v":1}}}');
      const updated = aws(
        "iot-data",
        "update-thing-shadow",
        "--thing-name",
        "cli-thing",
        "--payload",
        `fileb://${payload}`,
        out,
      );
      expect(updated.stderr.toString()).toBe("");
      expect(JSON.parse(readFileSync(out, "utf8")).state.reported).toEqual({ v: 1 });
    },
    30_000,
  );
});

describe("redteam-service 14: chunked bodies", () => {
  test("redteam-service 14: a chunked body past the limit is refused while it streams, before it ends", async () => {
    const chunk = "x".repeat(64 * 1024);
    const answer = await raw((write) => {
      write(
        "PUT /jobs/big HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
      );
      // 1 MB sent, the final chunk never: the answer must come without the body ending.
      for (let i = 0; i < 16; i++) write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    });
    expect(answer.split("\r\n")[0]).toMatch(/^HTTP\/1\.1 413 /);
    expect((await call("GET", "/things")).status).toBe(200);
  });

  test("redteam-service 14: a declared Content-Length past the limit is refused without reading the body", async () => {
    const answer = await raw(
      "PUT /jobs/big HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{",
    );
    expect(answer.split("\r\n")[0]).toMatch(/^HTTP\/1\.1 413 /);
  });
});

describe("redteam-service 18: malformed requests get 4xx, never 500", () => {
  test("redteam-service 18: malformed percent-encoding in a path is a 400", async () => {
    for (const path of ["/things/%E0%A4%A", "/jobs/%FF", "/things/a%ED%A0%80b"]) {
      const r = curl([`${svc.http}${path}`]);
      expect([path, r.status]).toEqual([path, 400]);
      expect(r.body).toContain("percent-encoding");
    }
  });

  test("redteam-service 18: a malformed Host and a missing Host are 400", async () => {
    expect((await raw("GET /things/v1 HTTP/1.1\r\nHost: a b\r\n\r\n")).split("\r\n")[0]).toMatch(/^HTTP\/1\.1 400 /);
    expect((await raw("GET /things HTTP/1.0\r\n\r\n")).split("\r\n")[0]).toMatch(/^HTTP\/1\.[01] 4\d\d /);
  });
});

describe("redteam-service 19: validation gaps", () => {
  const refused = async (what: string, method: string, path: string, body?: unknown) => {
    const r = await call(method, path, body === undefined ? undefined : JSON.stringify(body));
    expect([what, r.status, r.type]).toEqual([what, 400, "InvalidRequestException"]);
    return r.body.message as string;
  };

  test("redteam-service 19: CreateJob descriptions with NUL, ESC, a lone surrogate or 200,000 characters are refused", async () => {
    for (const description of ["a\u0000b", "a\u001bb", "a\ud800b", "d".repeat(200_000)]) {
      expect(
        await refused(`description ${JSON.stringify(description.slice(0, 4))}`, "PUT", "/jobs/v-1", {
          targets: [`${A}:thing/kiosk-7`],
          document: DOC,
          description,
        }),
      ).toContain("'description'");
    }
    expect((await call("GET", "/jobs/v-1")).status).toBe(404);
  });

  test("redteam-service 19: CancelJob comment and reasonCode are checked", async () => {
    expect(await refused("comment", "PUT", "/jobs/j-1/cancel", { comment: "c".repeat(200_000) })).toContain(
      "'comment'",
    );
    expect(await refused("reasonCode", "PUT", "/jobs/j-1/cancel", { reasonCode: "lower\u0000" })).toContain(
      "'reasonCode'",
    );
    expect((await call("GET", "/jobs/j-1")).body.job.status).toBe("IN_PROGRESS");
  });

  test("redteam-service 19: CancelJobExecution statusDetails are checked like the device API's", async () => {
    const many = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, "v"]));
    for (const statusDetails of [many, { "a\u0000": "v" }, { k: "a\u001bb" }, { k: "v".repeat(2000) }]) {
      await refused(`statusDetails ${Object.keys(statusDetails).length}`, "PUT", "/things/kiosk-7/jobs/j-1/cancel", {
        statusDetails,
      });
    }
    expect((await call("GET", "/things/kiosk-7/jobs/j-1")).body.execution.status).toBe("QUEUED");
  });

  test("redteam-service 19: a thingTypeName outside the pattern is refused; one of a type that does not exist is ResourceNotFound", async () => {
    expect(await refused("thingTypeName", "POST", "/things/typed", { thingTypeName: "../\u0000" })).toContain(
      "'thingTypeName'",
    );
    const missing = await call("POST", "/things/typed", JSON.stringify({ thingTypeName: "sensor" }));
    expect([missing.status, missing.type]).toEqual([404, "ResourceNotFoundException"]);
    expect((await call("GET", "/things/typed")).status).toBe(404);
  });

  test("redteam-service 19: a group description of 100,000 characters with NUL is refused", async () => {
    await refused("thingGroupDescription", "POST", "/thing-groups/g-long", {
      thingGroupProperties: { thingGroupDescription: `${"d".repeat(100_000)}\u0000` },
    });
    expect((await call("GET", "/thing-groups/g-long")).status).toBe(404);
  });

  test("redteam-service 19: DeleteThing of a thing that does not exist succeeds, as on AWS", async () => {
    expect((await call("DELETE", "/things/never-created")).status).toBe(200);
  });

  test("redteam-service 19: maxResults=0 and nextToken=-1 are refused", async () => {
    expect(await refused("maxResults=0", "GET", "/things?maxResults=0")).toContain("'maxResults'");
    expect(await refused("nextToken=-1", "GET", "/things?nextToken=-1&maxResults=1")).toContain("nextToken");
  });
});
