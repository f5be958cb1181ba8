/** The pids of every live (not zombie) process whose process group is `pgid` (from ps). */
export function groupMembers(pgid: number): number[] {
  const out = Bun.spawnSync(["ps", "-e", "-o", "pid=,pgid=,stat="]).stdout.toString();
  return out
    .trim()
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter(([, g, stat]) => Number(g) === pgid && !stat!.startsWith("Z"))
    .map(([p]) => Number(p));
}
