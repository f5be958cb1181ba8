export {};
/**
 * Runs the test suite with Bun's runner and ends with the line CI reads:
 * `N passed, N failed, N skipped`. Extra arguments go to `bun test` (paths, -t filters).
 */
const args = process.argv.slice(2);
const proc = Bun.spawn([process.execPath, "test", "--timeout", "120000", ...args], {
  stdout: "inherit",
  stderr: "pipe",
  env: { ...process.env, FORCE_COLOR: "0" },
});

let tail = "";
const decoder = new TextDecoder();
for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) {
  process.stderr.write(chunk);
  tail = (tail + decoder.decode(chunk, { stream: true })).slice(-4096);
}
const code = await proc.exited;

const count = (word: string) => Number(new RegExp(`^\\s*(\\d+) ${word}$`, "m").exec(tail)?.[1] ?? 0);
const passed = count("pass");
const failed = count("fail");
const skipped = count("skip");
// A crash before the summary must not read as success.
const failures = code !== 0 && failed === 0 ? 1 : failed;
console.log(`\n${passed} passed, ${failures} failed, ${skipped} skipped`);
process.exit(code === 0 && passed > 0 ? 0 : 1);
