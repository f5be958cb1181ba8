import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { agentCommand } from "./runtimes.ts";
import { tempDir } from "./temp.ts";

export interface AgentProcessOptions {
  readonly brokerUrl: string;
  readonly thingName: string;
  readonly handlerDirectory: string;
  readonly stateDir?: string;
  /**
   * The command that runs the agent (e.g. a compiled executable, or qemu and one); default: the
   * runtime IOT_JOBS_TEST_RUNTIME names (test/helpers/runtimes.ts), bun src/main.ts unless set.
   */
  readonly command?: readonly string[];
  readonly stepTimeoutSeconds?: number;
  readonly maxReruns?: number;
  readonly updateRetrySeconds?: number;
  readonly progressIntervalSeconds?: number;
  readonly extraArgs?: readonly string[];
  /** The config's jobs.signing section (code signing), if any. */
  readonly signing?: Record<string, unknown>;
  /** The agent's environment (default: this process's). */
  readonly env?: Record<string, string | undefined>;
}

/** The agent as a real process, from source (bun src/main.ts) or a compiled executable. */
export class AgentProcess {
  readonly lines: string[] = [];
  private partial = "";
  private lineWaiters: { test: (line: string) => boolean; resolve: (line: string) => void }[] = [];

  private constructor(
    readonly proc: ReturnType<typeof Bun.spawn>,
    readonly stateDir: string,
  ) {
    void this.read(proc.stdout as ReadableStream<Uint8Array>);
    void this.read(proc.stderr as ReadableStream<Uint8Array>);
  }

  static start(options: AgentProcessOptions): AgentProcess {
    const stateDir = options.stateDir ?? tempDir("agent-state-");
    const configFile = join(tempDir("agent-config-"), "agent.conf");
    writeFileSync(
      configFile,
      JSON.stringify({
        endpoint: options.brokerUrl,
        "thing-name": options.thingName,
        "state-dir": stateDir,
        logging: { level: "DEBUG", type: "stdout" },
        jobs: {
          enabled: true,
          "handler-directory": options.handlerDirectory,
          "step-timeout-seconds": options.stepTimeoutSeconds ?? 60,
          "max-reruns": options.maxReruns ?? 3,
          "update-retry-seconds": options.updateRetrySeconds ?? 0.5,
          ...(options.progressIntervalSeconds ? { "progress-interval-seconds": options.progressIntervalSeconds } : {}),
          ...(options.signing ? { signing: options.signing } : {}),
        },
      }),
      { mode: 0o600 },
    );
    const command = options.command ?? agentCommand();
    const proc = Bun.spawn([...command, "--config-file", configFile, ...(options.extraArgs ?? [])], {
      stdout: "pipe",
      stderr: "pipe",
      cwd: tempDir("agent-cwd-"),
      env: options.env ?? process.env,
    });
    return new AgentProcess(proc, stateDir);
  }

  get pid(): number {
    return this.proc.pid;
  }

  /** Resolves with the first log line (past or future) that contains `text`. */
  waitForLog(text: string, timeoutMs = 20_000): Promise<string> {
    const seen = this.lines.find((l) => l.includes(text));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no log line with ${JSON.stringify(text)}; log:\n${this.lines.join("\n")}`)),
        timeoutMs,
      );
      this.lineWaiters.push({ test: (l) => l.includes(text), resolve: (l) => (clearTimeout(timer), resolve(l)) });
    });
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<number> {
    this.proc.kill(signal);
    return this.proc.exited;
  }

  private async read(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      this.partial += decoder.decode(chunk, { stream: true });
      const parts = this.partial.split("\n");
      this.partial = parts.pop()!;
      for (const line of parts) {
        this.lines.push(line);
        for (const w of this.lineWaiters.filter((w) => w.test(line))) {
          this.lineWaiters = this.lineWaiters.filter((x) => x !== w);
          w.resolve(line);
        }
      }
    }
  }
}
