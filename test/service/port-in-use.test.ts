import { expect, test } from "bun:test";
import { createServer } from "node:net";
import { join } from "node:path";
import { REPO_ROOT } from "../helpers/temp.ts";

// The first hour (issue 17): a port already in use is one clear line naming the flags, no stack trace.
test("iot-jobs-local on a port already in use: one fatal line that says how to choose another", async () => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", () => resolve()));
  try {
    const port = (taken.address() as { port: number }).port;
    const proc = Bun.spawn(
      [
        process.execPath,
        join(REPO_ROOT, "src/service/main.ts"),
        "serve",
        "--mqtt-port",
        "0",
        "--http-port",
        String(port),
      ],
      { stdout: "pipe", stderr: "pipe" },
    );
    const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
    expect(code).toBe(1);
    expect(err).toContain("a port is already in use");
    expect(err).toContain("--http-port");
    expect(err).not.toMatch(/\n\s+at /);
  } finally {
    taken.close();
  }
});
