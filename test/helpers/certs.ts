import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "./temp.ts";

export interface TestPki {
  readonly dir: string;
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** A CA that signed nothing here: trusting only it must fail the handshake. */
  readonly otherCaCert: string;
}

/** A throw-away CA, a server certificate for 127.0.0.1/localhost and a client certificate (openssl). */
export function makeTestPki(): TestPki {
  const dir = tempDir("pki-");
  const f = (name: string) => join(dir, name);
  const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  for (const ca of ["ca", "other-ca"]) {
    ssl(
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "2",
      "-subj",
      `/CN=test ${ca}`,
      "-keyout",
      f(`${ca}.key`),
      "-out",
      f(`${ca}.crt`),
    );
  }
  for (const [name, ext] of [
    ["server", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
    ["client", "extendedKeyUsage=clientAuth"],
  ] as const) {
    ssl(
      "req",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-subj",
      `/CN=${name}`,
      "-keyout",
      f(`${name}.key`),
      "-out",
      f(`${name}.csr`),
    );
    require("node:fs").writeFileSync(f(`${name}.ext`), ext + "\n");
    ssl(
      "x509",
      "-req",
      "-in",
      f(`${name}.csr`),
      "-CA",
      f("ca.crt"),
      "-CAkey",
      f("ca.key"),
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      f(`${name}.ext`),
      "-out",
      f(`${name}.crt`),
    );
  }
  return {
    dir,
    caCert: f("ca.crt"),
    serverCert: f("server.crt"),
    serverKey: f("server.key"),
    clientCert: f("client.crt"),
    clientKey: f("client.key"),
    otherCaCert: f("other-ca.crt"),
  };
}

/** A self-signed certificate and its key nobody registered (openssl; RSA 2048 or EC P-256), as PEM text. */
export function selfSignedCertificate(
  commonName: string,
  key: "rsa" | "ec" = "rsa",
): { readonly certPem: string; readonly keyPem: string } {
  const dir = tempDir("self-signed-");
  const keyArgs = key === "rsa" ? ["-newkey", "rsa:2048"] : ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      ...keyArgs,
      "-nodes",
      "-subj",
      `/CN=${commonName}`,
      "-days",
      "2",
      "-keyout",
      "k.pem",
      "-out",
      "c.pem",
    ],
    { cwd: dir, stdio: "pipe" },
  );
  return { certPem: readFileSync(join(dir, "c.pem"), "utf8"), keyPem: readFileSync(join(dir, "k.pem"), "utf8") };
}
