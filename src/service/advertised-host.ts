/**
 * The address the service gives out — in pre-signed URLs, DescribeEndpoint and the ready line —
 * and the names its TLS server certificate carries. Bound to one address, that address. Bound to
 * every address (`--host 0.0.0.0` or `::`, to let devices on the network in), `0.0.0.0` is no
 * address another machine can use: the first `--http-host-name` then, else the machine's first
 * non-loopback IPv4 address. The certificate names localhost, 127.0.0.1, the bound address and every
 * `--http-host-name`, and when bound to all addresses the machine's own addresses and host name too,
 * so a device verifying the server by the name it dialled succeeds.
 */
import { hostname, networkInterfaces } from "node:os";

const WILDCARDS = new Set(["0.0.0.0", "::", "[::]"]);

export interface HostFacts {
  /** Non-internal addresses of this machine, IPv4 first. */
  readonly addresses: readonly string[];
  readonly hostname: string;
}

export function machineFacts(): HostFacts {
  const all = Object.values(networkInterfaces())
    .flat()
    .filter((i) => i !== undefined && !i.internal);
  const v4 = all.filter((i) => i!.family === "IPv4").map((i) => i!.address);
  const v6 = all.filter((i) => i!.family === "IPv6").map((i) => i!.address);
  return { addresses: [...v4, ...v6], hostname: hostname() };
}

export const isWildcard = (host: string) => WILDCARDS.has(host);

/** The host (no port; IPv6 in brackets) that URLs and DescribeEndpoint name. */
export function advertisedHost(bound: string, hostNames: readonly string[], facts: HostFacts): string {
  const host = isWildcard(bound)
    ? (hostNames[0] ?? facts.addresses.find((a) => !a.includes(":")) ?? "127.0.0.1")
    : bound;
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/** The names and addresses the TLS server certificate carries. */
export function certificateNames(bound: string, hostNames: readonly string[], facts: HostFacts): string[] {
  const names = ["localhost", "127.0.0.1", ...hostNames];
  if (isWildcard(bound)) names.push(...facts.addresses, facts.hostname);
  else names.push(bound);
  return [...new Set(names.filter((n) => n !== ""))];
}
