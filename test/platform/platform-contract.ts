/**
 * The platform contract (src/platform/platform.ts): one suite that every runtime adapter must
 * pass, run in-process for Bun and inside a real Node process for the Node adapter
 * (platform.test.ts). Plain async functions and node:assert, so the same file runs on both.
 */
import { strict as assert } from "node:assert";
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { getRandomValues } from "node:crypto";
import { join } from "node:path";
import { createServer as createTlsServer } from "node:tls";
import type { ByteSink } from "../../src/runner/byte-sink.ts";
import type { PipedChild, Platform, PlatformSocket } from "../../src/platform/platform.ts";

export interface ContractCase {
  readonly name: string;
  /** Why it cannot run here, if it cannot. */
  readonly skip?: string;
  run(): Promise<void>;
}

/** Files the TLS cases need (made with openssl by the caller). */
export interface ContractPki {
  readonly caCert: string;
  readonly otherCaCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

class Collect implements ByteSink {
  chunks: Uint8Array[] = [];
  bytes = 0;
  ended = false;
  push(chunk: Uint8Array): void {
    this.chunks.push(chunk.slice()); // the sink must copy: the adapter may reuse its buffer
    this.bytes += chunk.length;
  }
  end(): void {
    this.ended = true;
  }
  text(): string {
    return Buffer.concat(this.chunks).toString();
  }
}

async function run(p: Platform, argv: string[], env: Record<string, string> = { PATH: "/usr/bin:/bin" }, cwd?: string) {
  const out = new Collect();
  const err = new Collect();
  const child = p.spawnPiped({ argv, env, cwd, stdout: out, stderr: err });
  await child.started;
  const [exit] = await Promise.all([child.exited, child.outputDone]);
  return { exit, out, err, child };
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)),
  );
}

type Outcome = { kind: "open"; echoed: string; alpn?: string } | { kind: "connectError"; message: string };

/** Connects, writes `hello` once open, waits for the echo, ends; or reports the connect error. */
function echoOnce(p: Platform, port: number, tls?: Parameters<Platform["connect"]>[0]["tls"]): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no outcome within 5 s")), 5000);
    let received = "";
    let sock: PlatformSocket | undefined;
    p.connect(
      { hostname: "127.0.0.1", port, tls },
      {
        open: (socket) => {
          sock = socket;
          socket.setNoDelay?.(true);
          assert.equal(socket.write(new TextEncoder().encode("hello")), 5);
        },
        data: (socket, data) => {
          assert.equal(socket, sock, "data comes with the socket that opened");
          received += Buffer.from(data).toString();
          if (received === "hello") {
            clearTimeout(timer);
            // The negotiated ALPN protocol, when there is one (doctor's tls check reads it before end()).
            const alpn = socket.alpnProtocol;
            socket.end();
            resolve({ kind: "open", echoed: received, ...(alpn ? { alpn } : {}) });
          }
        },
        drain: () => {},
        close: () => {},
        error: (_s, message) => reject(new Error(message)),
        connectError: (message) => {
          clearTimeout(timer);
          resolve({ kind: "connectError", message });
        },
      },
    );
  });
}

export function platformContract(p: Platform, pki?: ContractPki): ContractCase[] {
  const isRoot = process.getuid?.() === 0;
  return [
    {
      name: "spawnPiped: stdout and stderr into their sinks, the exit status, both sinks left open for the caller",
      async run() {
        const r = await run(p, ["/bin/sh", "-c", "printf out; printf err >&2; exit 3"]);
        assert.deepEqual(r.exit, { exitCode: 3, signalCode: null });
        assert.equal(r.out.text(), "out");
        assert.equal(r.err.text(), "err");
        assert.equal(r.out.ended, false);
      },
    },
    {
      name: "spawnPiped: env and cwd are the request's, stdin is empty",
      async run() {
        const dir = mkdtempSync(join(tmpdir(), "platform-cwd-"));
        const r = await run(
          p,
          ["/bin/sh", "-c", 'echo "$FOO"; pwd; cat; echo "[$HOME]"'],
          { FOO: "bar", PATH: "/usr/bin:/bin" },
          dir,
        );
        assert.equal(r.out.text(), `bar\n${dir}\n[]\n`);
      },
    },
    {
      name: "spawnPiped: a program that does not exist is refused with ENOENT (thrown or through started)",
      async run() {
        let code: string | undefined;
        try {
          const child = p.spawnPiped({
            argv: ["/nonexistent/program"],
            env: {},
            stdout: new Collect(),
            stderr: new Collect(),
          });
          await child.started;
        } catch (error) {
          code = (error as NodeJS.ErrnoException).code;
        }
        assert.equal(code, "ENOENT");
      },
    },
    {
      name: "spawnPiped: the child leads its own session and process group",
      async run() {
        // /proc/PID/stat: pid (comm) state ppid pgrp session ...
        const r = await run(p, ["/bin/sh", "-c", "cat /proc/$$/stat"]);
        const fields = r.out.text().split(") ")[1]!.split(" ");
        assert.equal(Number(fields[2]), r.child.pid, "process group = child pid");
        assert.equal(Number(fields[3]), r.child.pid, "session = child pid");
      },
    },
    {
      name: "spawnPiped: a child killed by a signal reports the signal name",
      async run() {
        const r = await run(p, ["/bin/sh", "-c", "kill -TERM $$; sleep 5"]);
        assert.deepEqual(r.exit, { exitCode: null, signalCode: "SIGTERM" });
      },
    },
    {
      name: "spawnPiped: 16 MiB on each stream arrive complete",
      async run() {
        const r = await run(p, ["/bin/sh", "-c", "head -c 16777216 /dev/zero & head -c 16777216 /dev/zero >&2; wait"]);
        assert.equal(r.out.bytes, 16 * 1024 * 1024);
        assert.equal(r.err.bytes, 16 * 1024 * 1024);
      },
    },
    {
      name: "spawnPiped: every byte value, in order, on both streams (3 MiB of random bytes each)",
      async run() {
        const dir = mkdtempSync(join(tmpdir(), "platform-bytes-"));
        const bytes = new Uint8Array(3 * 1024 * 1024);
        for (let at = 0; at < bytes.length; at += 65536) getRandomValues(bytes.subarray(at, at + 65536));
        for (let v = 0; v < 256; v++) bytes[v] = v; // every value for sure, NUL and 0xff included
        writeFileSync(join(dir, "bytes"), bytes);
        // Small writes (dd bs=1000) as well as large ones (cat): pieces gathered must keep their order.
        const r = await run(
          p,
          ["/bin/sh", "-c", "cat bytes & dd if=bytes bs=1000 status=none >&2; wait"],
          undefined,
          dir,
        );
        assert.ok(Buffer.from(bytes).equals(Buffer.concat(r.out.chunks)), "stdout differs");
        assert.ok(Buffer.from(bytes).equals(Buffer.concat(r.err.chunks)), "stderr differs");
      },
    },
    {
      name: "spawnPiped: chunks are Uint8Arrays whose slice copies and whose indexOf is Uint8Array's",
      async run() {
        const seen: string[] = [];
        const wrong = new Set<string>(); // gathered, not thrown: a throw here would be the adapter's
        const sink: ByteSink = {
          push(chunk) {
            if (!(chunk instanceof Uint8Array)) wrong.add("a chunk is not a Uint8Array");
            if (chunk.slice().buffer === chunk.buffer) wrong.add("slice() made a view, not a copy (a Buffer's slice)");
            for (const [value, from] of [[0x0a], [0x0a, 3], [0x0a, -5], [0x0d], [0x61, 1e9], [0x0a, Number.NaN]]) {
              const want = Uint8Array.prototype.indexOf.call(chunk, value!, from);
              if (chunk.indexOf(value!, from) !== want) wrong.add(`indexOf(${value}, ${from}) is not Uint8Array's`);
            }
            seen.push(Buffer.from(chunk).toString());
          },
          end() {},
        };
        const child = p.spawnPiped({
          argv: ["/bin/sh", "-c", "printf 'ab\\ncd\\r\\n'; printf 'x\\ny'; head -c 200000 /dev/zero | tr '\\0' a"],
          env: { PATH: "/usr/bin:/bin" },
          stdout: sink,
          stderr: sink,
        });
        await child.started;
        await Promise.all([child.exited, child.outputDone]);
        assert.deepEqual([...wrong], []);
        assert.equal(seen.join(""), `ab\ncd\r\nx\ny${"a".repeat(200000)}`);
      },
    },
    {
      name: "spawnPiped: no output at all ends both streams with zero bytes",
      async run() {
        const r = await run(p, ["/bin/true"]);
        assert.deepEqual(r.exit, { exitCode: 0, signalCode: null });
        assert.equal(r.out.bytes + r.err.bytes, 0);
      },
    },
    {
      name: "spawnPiped: a child that closes stdout early still has its stderr read to the end",
      async run() {
        const r = await run(p, ["/bin/sh", "-c", "echo first; exec >&-; sleep 0.2; echo after-close >&2"]);
        assert.equal(r.out.text(), "first\n");
        assert.equal(r.err.text(), "after-close\n");
      },
    },
    {
      name: "spawnPiped: what a grandchild writes after the child exited arrives before outputDone",
      async run() {
        const r = await run(p, ["/bin/sh", "-c", "(sleep 0.3; echo late; echo late-err >&2) & echo early"]);
        assert.equal(r.out.text(), "early\nlate\n");
        assert.equal(r.err.text(), "late-err\n");
      },
    },
    {
      name: "spawnPiped: detachOutput leaves a grandchild's pipe read and discarded until it closes",
      async run() {
        const out = new Collect();
        const child = p.spawnPiped({
          argv: ["/bin/sh", "-c", "(sleep 0.4; echo late) & echo early"],
          env: { PATH: "/usr/bin:/bin" },
          stdout: out,
          stderr: new Collect(),
        });
        await child.started;
        await child.exited;
        await new Promise((r) => setTimeout(r, 100));
        assert.equal(out.text(), "early\n");
        child.detachOutput();
        // Detached reading must not keep a runtime alive on its own; the agent's life does that here.
        const keepAlive = setInterval(() => {}, 1000);
        await child.outputDone; // the grandchild wrote (no SIGPIPE) and closed
        clearInterval(keepAlive);
        assert.equal(out.text(), "early\n");
      },
    },
    {
      name: "tryLockExclusive: locked, busy for another open file, free again once the holder closes",
      async run() {
        const file = join(mkdtempSync(join(tmpdir(), "platform-lock-")), "agent.lock");
        writeFileSync(file, "");
        const a = openSync(file, "r+");
        const b = openSync(file, "r+");
        assert.deepEqual(p.tryLockExclusive(a), { kind: "locked" });
        assert.deepEqual(p.tryLockExclusive(b), { kind: "busy" });
        // Another process sees the lock too.
        const other = await run(p, ["/bin/sh", "-c", `exec 9<"${file}"; flock -x -n 9 && echo free || echo held`]);
        assert.equal(other.out.text(), "held\n");
        closeSync(a);
        assert.deepEqual(p.tryLockExclusive(b), { kind: "locked" });
        closeSync(b);
      },
    },
    {
      name: "runAsArgv: as root, the plan runs the command with the user's uid, gid and every group",
      skip: isRoot ? undefined : "needs root",
      async run() {
        const plan = p.runAsArgv(
          { uid: 65534, gid: 65534, groups: [65534, 20, 44] },
          ["/bin/sh", "-c", "id -u; id -g; id -G"],
          "/usr/sbin:/usr/bin:/sbin:/bin",
        );
        assert.ok(plan.ok, plan.ok ? "" : plan.reason);
        const r = await run(p, plan.argv, { PATH: "/usr/bin:/bin" });
        assert.equal(r.err.text(), "");
        assert.deepEqual(r.out.text().trim().split("\n"), ["65534", "65534", "65534 20 44"]);
      },
    },
    {
      name: "connect: TCP open, write, data, end; a refused port is a connectError",
      async run() {
        const server = createServer((s) => s.pipe(s));
        const port = await listen(server);
        try {
          assert.deepEqual(await echoOnce(p, port), { kind: "open", echoed: "hello" });
        } finally {
          server.close();
        }
        const refused = await echoOnce(p, port);
        assert.equal(refused.kind, "connectError");
        // The errno name is in the message on every runtime (the agent logs it; Bun's own says "Failed to connect").
        assert.match(refused.kind === "connectError" ? refused.message : "", /ECONNREFUSED/);
      },
    },
    {
      name: "connect: mutual TLS opens only after a verified handshake; a wrong CA is a connectError",
      skip: pki ? undefined : "no test PKI",
      async run() {
        const k = pki!;
        const server = createTlsServer(
          {
            cert: readFileSync(k.serverCert),
            key: readFileSync(k.serverKey),
            ca: readFileSync(k.caCert),
            requestCert: true,
            rejectUnauthorized: true,
            ALPNProtocols: ["x-amzn-mqtt-ca"],
          },
          (s) => s.pipe(s),
        );
        const port = await listen(server);
        const tls = (ca: string) => ({
          cert: readFileSync(k.clientCert),
          key: readFileSync(k.clientKey),
          ca: readFileSync(ca),
          serverName: "localhost",
          ALPNProtocols: Uint8Array.from([14, ...Buffer.from("x-amzn-mqtt-ca")]),
        });
        try {
          assert.deepEqual(await echoOnce(p, port, tls(k.caCert)), {
            kind: "open",
            echoed: "hello",
            alpn: "x-amzn-mqtt-ca",
          });
          const wrong = await echoOnce(p, port, tls(k.otherCaCert));
          assert.equal(wrong.kind, "connectError");
        } finally {
          server.close();
        }
      },
    },
    {
      name: "runtime names the runtime and its version",
      async run() {
        assert.match(p.runtime, /^(bun \d+\.\d+\.\d+|node v\d+\.\d+\.\d+)/);
        assert.equal(p.runtimeProblem, undefined);
      },
    },
  ];
}

export type { PipedChild };
