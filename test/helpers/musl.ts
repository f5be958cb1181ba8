/**
 * Runs the musl executables on this Debian machine. Bun's musl runtime links libstdc++.so.6 (and
 * through it libgcc_s.so.1) dynamically (`readelf -d`): on Alpine they come from its libstdc++
 * package, which no registry we reach ships. Debian has the musl loader and libc (`musl`,
 * `musl:arm64`) but builds libstdc++ only against glibc. That libstdc++ runs on musl once seven
 * glibc-only symbols exist (what Alpine's gcompat does for whole programs): the shim below
 * provides them on top of musl, and patchelf makes libstdc++ load it instead of glibc's
 * ld-linux. The executable, its loader and its libc are the real musl ones; only the C++ runtime
 * is Debian's.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "./temp.ts";

/** What libstdc++/libgcc_s built for glibc ask of the C library beyond what musl has. */
const SHIM_SOURCE = `
typedef unsigned long size_t;
struct tm;
typedef void *locale_t;
extern size_t strftime_l(char *, size_t, const char *, const struct tm *, locale_t);
extern long getrandom(void *, size_t, unsigned);
extern unsigned long getauxval(unsigned long);
extern int pthread_key_create(unsigned *, void (*)(void *));
extern void *pthread_getspecific(unsigned);
extern int pthread_setspecific(unsigned, const void *);
extern int pthread_once(int *, void (*)(void));
extern void *malloc(size_t);
extern void free(void *);

char __libc_single_threaded = 0;
struct { unsigned vendor, type, subtype, features[1]; } __cpu_model; /* x86 libgcc_s: no CPU features known */
int __cpu_indicator_init(void) { return 0; }
size_t __strftime_l(char *s, size_t n, const char *f, const struct tm *t, locale_t l) { return strftime_l(s, n, f, t, l); }
unsigned arc4random(void) { unsigned v = 0; while (getrandom(&v, sizeof v, 0) != sizeof v) {} return v; }
unsigned long __getauxval(unsigned long type) { return getauxval(type); }
/* Not found: libgcc_s falls back to dl_iterate_phdr, which musl has. */
int _dl_find_object(void *pc, void *result) { (void)pc; (void)result; return -1; }

/* thread_local destructors: run at thread exit through a pthread key. */
struct dtor { void (*fn)(void *); void *obj; struct dtor *next; };
static unsigned key;
static int once;
static void run_dtors(void *p) { for (struct dtor *d = p, *n; d; d = n) { n = d->next; d->fn(d->obj); free(d); } }
static void make_key(void) { pthread_key_create(&key, run_dtors); }
int __cxa_thread_atexit_impl(void (*fn)(void *), void *obj, void *dso) {
  (void)dso;
  pthread_once(&once, make_key);
  struct dtor *d = malloc(sizeof *d);
  if (!d) return -1;
  d->fn = fn; d->obj = obj; d->next = pthread_getspecific(key);
  pthread_setspecific(key, d);
  return 0;
}
`;

interface MuslArch {
  /** The musl loader a Debian `musl` package installs. */
  readonly loader: string;
  readonly compiler: string;
  readonly libstdcxx: string;
  readonly libgcc: string;
  /** The glibc loader libstdc++ names as NEEDED (x86-64 only). */
  readonly glibcLoader?: string;
  readonly apt: string;
}

const ARCHES: Record<"x64" | "arm64", MuslArch> = {
  x64: {
    loader: "/lib/ld-musl-x86_64.so.1",
    compiler: "gcc",
    libstdcxx: "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
    libgcc: "/lib/x86_64-linux-gnu/libgcc_s.so.1",
    glibcLoader: "ld-linux-x86-64.so.2",
    apt: "musl gcc patchelf",
  },
  arm64: {
    loader: "/lib/ld-musl-aarch64.so.1",
    compiler: "aarch64-linux-gnu-gcc",
    libstdcxx: "/usr/aarch64-linux-gnu/lib/libstdc++.so.6",
    libgcc: "/usr/aarch64-linux-gnu/lib/libgcc_s.so.1",
    apt: "musl:arm64 (dpkg --add-architecture arm64) gcc-aarch64-linux-gnu libstdc++6-arm64-cross patchelf qemu-user-static",
  },
};

/** Why the musl executable of ARCH cannot run here, or undefined when it can. */
export function muslMissing(arch: "x64" | "arm64"): string | undefined {
  const a = ARCHES[arch];
  const missing = [a.loader, a.libstdcxx, a.libgcc].filter((f) => !existsSync(f));
  for (const tool of [a.compiler, "patchelf"]) if (!Bun.which(tool)) missing.push(tool);
  if (missing.length === 0) return undefined;
  return `needs ${missing.join(", ")} (apt-get install -y ${a.apt})`;
}

/** A directory holding libstdc++.so.6, libgcc_s.so.1 and the shim for ARCH: the LD_LIBRARY_PATH. */
export function muslLibraryDir(arch: "x64" | "arm64"): string {
  const a = ARCHES[arch];
  const dir = tempDir(`musl-${arch}-`);
  const run = (cmd: string, ...args: string[]) => execFileSync(cmd, args, { cwd: dir, stdio: "pipe" });
  writeFileSync(join(dir, "glibc-shim.c"), SHIM_SOURCE);
  // -nostdlib: no libc of either kind linked in; musl resolves the shim's references at load time.
  run(
    a.compiler,
    "-O2",
    "-shared",
    "-fPIC",
    "-nostdlib",
    "-Wl,-soname,libglibc-shim.so",
    "-o",
    "libglibc-shim.so",
    "glibc-shim.c",
  );
  copyFileSync(a.libstdcxx, join(dir, "libstdc++.so.6"));
  copyFileSync(a.libgcc, join(dir, "libgcc_s.so.1"));
  if (a.glibcLoader) run("patchelf", "--remove-needed", a.glibcLoader, "libstdc++.so.6");
  run("patchelf", "--add-needed", "libglibc-shim.so", "libstdc++.so.6");
  return dir;
}
