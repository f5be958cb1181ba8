/**
 * A real HTTP proxy (Debian's tinyproxy) on a free loopback port, for the agent's CONNECT tunnel:
 * optionally with Basic authentication, or allowing CONNECT only to a port the broker is not on
 * (a proxy that refuses). Log lines go to a file the test can read (did the password leak?).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "./mosquitto.ts";
import { tempDir } from "./temp.ts";

export function tinyproxyPath(): string | undefined {
  return Bun.which("tinyproxy") ?? Bun.which("tinyproxy", { PATH: "/usr/sbin:/usr/local/sbin:/sbin" }) ?? undefined;
}

export interface TinyproxyOptions {
  readonly basicAuth?: { readonly user: string; readonly password: string };
  /** Only these CONNECT ports are allowed (tinyproxy's ConnectPort); default: every port. */
  readonly connectPorts?: readonly number[];
}

export class Tinyproxy {
  private proc: ReturnType<typeof Bun.spawn> | undefined;
  private constructor(
    readonly port: number,
    private readonly configFile: string,
    readonly logFile: string,
  ) {}

  static async start(options: TinyproxyOptions = {}): Promise<Tinyproxy> {
    if (!tinyproxyPath()) throw new Error("tinyproxy is not installed (apt-get install -y tinyproxy)");
    const dir = tempDir("tinyproxy-");
    const port = await freePort();
    const configFile = join(dir, "tinyproxy.conf");
    const logFile = join(dir, "tinyproxy.log");
    const lines = [
      `Port ${port}`,
      "Listen 127.0.0.1",
      "Timeout 600",
      "MaxClients 50",
      "LogLevel Info",
      `LogFile "${logFile}"`,
      ...(process.geteuid?.() === 0 ? ["User root", "Group root"] : []),
      ...(options.basicAuth ? [`BasicAuth ${options.basicAuth.user} ${options.basicAuth.password}`] : []),
      ...(options.connectPorts ?? []).map((p) => `ConnectPort ${p}`),
    ];
    writeFileSync(configFile, lines.join("\n") + "\n");
    const proxy = new Tinyproxy(port, configFile, logFile);
    await proxy.launch();
    return proxy;
  }

  private async launch(): Promise<void> {
    this.proc = Bun.spawn([tinyproxyPath()!, "-d", "-c", this.configFile], { stdout: "ignore", stderr: "ignore" });
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      const up = await Bun.connect({ hostname: "127.0.0.1", port: this.port, socket: { data() {} } }).then(
        (s) => (s.end(), true),
        () => false,
      );
      if (up) return;
      await Bun.sleep(25);
    }
    throw new Error(`tinyproxy does not listen on ${this.port}`);
  }

  log(): string {
    try {
      return readFileSync(this.logFile, "utf8");
    } catch {
      return "";
    }
  }

  async stop(): Promise<void> {
    if (!this.proc) return;
    this.proc.kill("SIGKILL");
    await this.proc.exited;
    this.proc = undefined;
  }

  async restart(downMs = 0): Promise<void> {
    await this.stop();
    if (downMs) await Bun.sleep(downMs);
    await this.launch();
  }
}
