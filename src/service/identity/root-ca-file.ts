/**
 * The local CA's certificate as a file, so a device's `root-ca` points at it as it points at
 * AmazonRootCA1.pem: `<data-dir>/root-ca.pem` (kept), or a file in a private temporary directory
 * when the state lives in memory (removed at stop). Only the certificate: the key stays in the store.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ROOT_CA_FILE = "root-ca.pem";

export function writeRootCa(dataDir: string | undefined, pem: string): { path: string; remove(): void } {
  if (dataDir) {
    const path = join(dataDir, ROOT_CA_FILE);
    writeFileSync(path, pem, { mode: 0o644 });
    return { path, remove: () => {} };
  }
  const dir = mkdtempSync(join(tmpdir(), "iot-jobs-local-ca-"));
  const path = join(dir, ROOT_CA_FILE);
  writeFileSync(path, pem, { mode: 0o644 });
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
