/** The executables `npm run build` writes: one per Bun target the devices need. */
export interface BuildTarget {
  /** Bun's --target. */
  readonly bunTarget: string;
  /** Suffix of dist/iot-jobs-agent-<suffix>. */
  readonly suffix: string;
  readonly arch: "x64" | "arm64";
  readonly libc: "glibc" | "musl";
}

export const TARGETS: readonly BuildTarget[] = [
  { bunTarget: "bun-linux-x64", suffix: "linux-x64", arch: "x64", libc: "glibc" },
  { bunTarget: "bun-linux-arm64", suffix: "linux-arm64", arch: "arm64", libc: "glibc" },
  { bunTarget: "bun-linux-arm64-musl", suffix: "linux-arm64-musl", arch: "arm64", libc: "musl" },
];
