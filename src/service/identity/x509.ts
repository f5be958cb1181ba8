/**
 * Everything X.509 the service does, behind one module: the data directory's CA, certificates it
 * issues (for generated keys and for CSRs), the broker's server certificate, and parsing what a
 * user registers. @peculiar/x509 over WebCrypto (Bun's); the openssl CLI is not needed at run
 * time. Keys are RSA 2048, as AWS IoT's CreateKeysAndCertificate issues them.
 */
import "reflect-metadata"; // tsyringe, inside @peculiar/x509, needs it before the import below
import { createHash, generateKeyPairSync } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { ServiceError } from "../errors.ts";

x509.cryptoProvider.set(globalThis.crypto);

const RSA = {
  name: "RSASSA-PKCS1-v1_5",
  hash: "SHA-256",
  publicExponent: new Uint8Array([1, 0, 1]),
  modulusLength: 2048,
} as const;
const DAY_MS = 86_400_000;
/** AWS IoT's own device certificates are valid until the end of 2049. */
const DEVICE_NOT_AFTER = Date.UTC(2049, 11, 31, 23, 59, 59);

export interface CaMaterial {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
}

export interface IssuedCertificate {
  readonly certificateId: string;
  readonly certificatePem: string;
  readonly notBefore: number;
  readonly notAfter: number;
}

const pem = (label: string, der: ArrayBuffer | Uint8Array) => {
  const b64 = Buffer.from(der as ArrayBuffer).toString("base64");
  return `-----BEGIN ${label}-----\n${b64.match(/.{1,64}/g)?.join("\n")}\n-----END ${label}-----\n`;
};

const serial = () =>
  `01${createHash("sha256")
    .update(crypto.getRandomValues(new Uint8Array(16)))
    .digest("hex")
    .slice(0, 30)}`;

/** AWS's certificate id: the SHA-256 of the DER, in hex. */
export const certificateIdOf = (cert: x509.X509Certificate) =>
  createHash("sha256").update(new Uint8Array(cert.rawData)).digest("hex");

async function importPrivateKey(pkcs8Pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decodeFirst(pkcs8Pem);
  return crypto.subtle.importKey("pkcs8", der, RSA, false, ["sign"]);
}

/** A new CA for a data directory: self-signed, 20 years, CN names the service. */
export async function createCa(nowMs: number): Promise<CaMaterial> {
  const keys = (await crypto.subtle.generateKey(RSA, true, ["sign", "verify"])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: "CN=iot-jobs-local CA, O=iot-jobs-local",
    notBefore: new Date(nowMs - DAY_MS),
    notAfter: new Date(nowMs + 20 * 365 * DAY_MS),
    keys,
    signingAlgorithm: RSA,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    certificatePem: cert.toString("pem"),
    privateKeyPem: pem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", keys.privateKey)),
  };
}

async function issue(
  ca: CaMaterial,
  publicKey: x509.PublicKey,
  subject: string,
  notBefore: number,
  notAfter: number,
  extensions: x509.Extension[],
): Promise<IssuedCertificate> {
  const caCert = new x509.X509Certificate(ca.certificatePem);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject,
    issuer: caCert.subject,
    notBefore: new Date(notBefore),
    notAfter: new Date(notAfter),
    signingKey: await importPrivateKey(ca.privateKeyPem),
    publicKey,
    signingAlgorithm: RSA,
    extensions: [new x509.BasicConstraintsExtension(false, undefined, true), ...extensions],
  });
  return { certificateId: certificateIdOf(cert), certificatePem: cert.toString("pem"), notBefore, notAfter };
}

const clientAuth = () => [
  new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
  new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
];

/** CreateKeysAndCertificate: a new RSA key pair (PKCS#1 private key, as AWS returns it) and its certificate. */
export async function issueWithNewKeys(
  ca: CaMaterial,
  nowMs: number,
): Promise<IssuedCertificate & { publicKeyPem: string; privateKeyPem: string }> {
  const pair = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
  });
  const publicKey = new x509.PublicKey(pair.publicKey);
  const issued = await issue(ca, publicKey, "CN=AWS IoT Certificate", nowMs - DAY_MS, DEVICE_NOT_AFTER, clientAuth());
  return { ...issued, publicKeyPem: pair.publicKey, privateKeyPem: pair.privateKey };
}

/** CreateCertificateFromCsr: the CSR's signature must verify; its subject is kept. */
export async function issueFromCsr(ca: CaMaterial, csrPem: string, nowMs: number): Promise<IssuedCertificate> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch {
    throw new ServiceError("InvalidRequest", "certificateSigningRequest is not a PEM PKCS#10 certificate request");
  }
  if (!(await csr.verify())) throw new ServiceError("InvalidRequest", "The CSR's signature does not verify");
  return issue(ca, csr.publicKey, csr.subject || "CN=AWS IoT Certificate", nowMs - DAY_MS, DEVICE_NOT_AFTER, [
    ...clientAuth(),
  ]);
}

/** The broker's TLS server certificate: `localhost` and `127.0.0.1` (and the bind host), a year. */
export async function issueServerCertificate(
  ca: CaMaterial,
  nowMs: number,
  hosts: readonly string[],
): Promise<{ certificatePem: string; privateKeyPem: string }> {
  const keys = (await crypto.subtle.generateKey(RSA, true, ["sign", "verify"])) as CryptoKeyPair;
  const names = [...new Set(["localhost", "127.0.0.1", ...hosts])].map((value) =>
    /^[\d.]+$|:/.test(value) ? { type: "ip" as const, value } : { type: "dns" as const, value },
  );
  const issued = await issue(
    ca,
    await x509.PublicKey.create(keys.publicKey),
    "CN=localhost",
    nowMs - DAY_MS,
    nowMs + 365 * DAY_MS,
    [
      new x509.SubjectAlternativeNameExtension(names),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    ],
  );
  return {
    certificatePem: issued.certificatePem,
    privateKeyPem: pem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", keys.privateKey)),
  };
}

/** RegisterCertificateWithoutCA: any well-formed X.509 certificate; its id and validity. */
export function parseCertificate(certificatePem: string): IssuedCertificate {
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(certificatePem);
  } catch {
    throw new ServiceError("CertificateValidation", "certificatePem is not a PEM X.509 certificate");
  }
  return {
    certificateId: certificateIdOf(cert),
    certificatePem: cert.toString("pem"),
    notBefore: cert.notBefore.getTime(),
    notAfter: cert.notAfter.getTime(),
  };
}
