/** The executables `npm run build` writes: one per Bun target the devices need. */
export interface BuildTarget {
  /** Bun's --target. */
  readonly bunTarget: string;
  /** Suffix of dist/iot-jobs-agent-<suffix>. */
  readonly suffix: string;
  readonly arch: "x64" | "arm64";
  readonly libc: "glibc" | "musl";
  /** The ELF interpreter the executable asks for (what a device image must provide). */
  readonly interpreter: string;
  /** Debian architecture name, for .deb packages. */
  readonly debianArch: "amd64" | "arm64";
}

export const TARGETS: readonly BuildTarget[] = [
  {
    bunTarget: "bun-linux-x64",
    suffix: "linux-x64",
    arch: "x64",
    libc: "glibc",
    interpreter: "/lib64/ld-linux-x86-64.so.2",
    debianArch: "amd64",
  },
  {
    bunTarget: "bun-linux-arm64",
    suffix: "linux-arm64",
    arch: "arm64",
    libc: "glibc",
    interpreter: "/lib/ld-linux-aarch64.so.1",
    debianArch: "arm64",
  },
  {
    bunTarget: "bun-linux-arm64-musl",
    suffix: "linux-arm64-musl",
    arch: "arm64",
    libc: "musl",
    interpreter: "/lib/ld-musl-aarch64.so.1",
    debianArch: "arm64",
  },
  {
    bunTarget: "bun-linux-x64-musl",
    suffix: "linux-x64-musl",
    arch: "x64",
    libc: "musl",
    interpreter: "/lib/ld-musl-x86_64.so.1",
    debianArch: "amd64",
  },
];

/** Our code may add at most this much over the bare Bun runtime of the same target. */
export const MAX_CODE_OVER_RUNTIME_BYTES = 2 * 1024 * 1024;

/** The size check: undefined when fine, else the reason the build fails. */
export function sizeProblem(
  program: string,
  suffix: string,
  executableBytes: number,
  bareRuntimeBytes: number,
): string | undefined {
  const over = executableBytes - bareRuntimeBytes;
  if (over <= MAX_CODE_OVER_RUNTIME_BYTES) return undefined;
  return `${program}-${suffix} is ${(over / 1048576).toFixed(2)} MiB over the bare Bun runtime (limit ${(MAX_CODE_OVER_RUNTIME_BYTES / 1048576).toFixed(0)} MiB): look for a dependency that grew`;
}
