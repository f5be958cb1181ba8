import { createServer, connect as tcpConnect } from "node:net";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "./temp.ts";

/** A free TCP port on loopback (bound, then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = tcpConnect(port, "127.0.0.1");
      s.once("connect", () => (s.destroy(), resolve(true)));
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await Bun.sleep(25);
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

export function mosquittoPath(): string | undefined {
  return Bun.which("mosquitto") ?? Bun.which("mosquitto", { PATH: "/usr/sbin:/usr/local/sbin:/sbin" }) ?? undefined;
}

/** A real Mosquitto on a free loopback port, without persistence. */
export class Mosquitto {
  private proc: ReturnType<typeof Bun.spawn> | undefined;
  private constructor(
    readonly port: number,
    private readonly configFile: string,
  ) {}

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** `listener`: extra lines for the listener (TLS files, say); `global`: extra global lines. */
  static async start(options: { listener?: string[]; global?: string[] } = {}): Promise<Mosquitto> {
    const bin = mosquittoPath();
    if (!bin) throw new Error("mosquitto is not installed (apt-get install -y mosquitto)");
    const dir = tempDir("mosquitto-");
    const port = await freePort();
    const configFile = join(dir, "mosquitto.conf");
    const lines = [
      `listener ${port} 127.0.0.1`,
      ...(options.listener ?? []),
      ...(options.global ?? ["allow_anonymous true"]), // As root Mosquitto would switch to its own user, which cannot read our 0700 temp dirs.
      ...(process.geteuid?.() === 0 ? ["user root"] : []),
      "persistence false",
      "log_dest none",
      "max_inflight_messages 0",
      "set_tcp_nodelay true",
    ];
    writeFileSync(configFile, lines.join("\n") + "\n");
    const broker = new Mosquitto(port, configFile);
    await broker.launch();
    return broker;
  }

  private async launch(): Promise<void> {
    this.proc = Bun.spawn([mosquittoPath()!, "-c", this.configFile], { stdout: "ignore", stderr: "ignore" });
    await waitForPort(this.port);
  }

  /** Stops the broker (every session is lost, as no persistence is configured). */
  async stop(): Promise<void> {
    if (!this.proc) return;
    this.proc.kill("SIGCONT");
    this.proc.kill("SIGKILL");
    await this.proc.exited;
    this.proc = undefined;
  }

  /** SIGSTOP: the broker keeps its sockets open but answers nothing (a hung link). */
  pause(): void {
    this.proc?.kill("SIGSTOP");
  }

  resume(): void {
    this.proc?.kill("SIGCONT");
  }

  async restart(downMs = 0): Promise<void> {
    await this.stop();
    if (downMs) await Bun.sleep(downMs);
    await this.launch();
  }
}
