/**
 * Cases for what only the Node adapter has — its two ways of reading a child's pipe
 * (src/platform/node-pipe-reader.ts) — run inside Node by node-runner.ts next to the contract.
 */
import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { Readable } from "node:stream";
import { readChildPipe } from "../../src/platform/node-pipe-reader.ts";
import type { ByteSink } from "../../src/runner/byte-sink.ts";
import type { ContractCase } from "./platform-contract.ts";

export const NODE_ONLY_CASES: ContractCase[] = [
  {
    name: "node: a child's pipes are read through their handles into a reused buffer on this Node",
    async run() {
      const child = spawn("/bin/sh", ["-c", "printf out; printf err >&2"], { stdio: ["ignore", "pipe", "pipe"] });
      const out = collect();
      const err = collect();
      const readers = [readChildPipe(child.stdout, out), readChildPipe(child.stderr, err)];
      assert.deepEqual(
        readers.map((r) => r.mode),
        ["handle", "handle"],
      );
      await Promise.all(readers.map((r) => r.done));
      assert.equal(Buffer.concat(out.chunks).toString(), "out");
      assert.equal(Buffer.concat(err.chunks).toString(), "err");
    },
  },
  {
    name: "node: a stream without a pipe handle is read through its 'data' events, same bytes, slice copies",
    async run() {
      const sink = collect();
      const reading = readChildPipe(
        Readable.from([Buffer.from("ab"), Buffer.alloc(70_000, 0x63), Buffer.from("d")]),
        sink,
      );
      assert.equal(reading.mode, "stream");
      await reading.done;
      assert.equal(Buffer.concat(sink.chunks).toString(), `ab${"c".repeat(70_000)}d`);
      assert.equal(sink.views, 0, "a chunk's slice() was a view (a Buffer passed on as it is)");
    },
  },
];

function collect(): ByteSink & { chunks: Uint8Array[]; views: number } {
  const sink = {
    chunks: [] as Uint8Array[],
    views: 0,
    push: (chunk: Uint8Array) => {
      const copy = chunk.slice();
      if (copy.buffer === chunk.buffer) sink.views++;
      sink.chunks.push(copy);
    },
    end: () => {},
  };
  return sink;
}
