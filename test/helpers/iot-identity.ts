/**
 * Identity helpers for tests: the AWS IoT Device Client's documented minimum Jobs policy (written
 * here from its description: Connect as the thing; publish start-next and every update; subscribe to
 * and receive their replies and notify-next), and a device provisioned as on AWS — CreateThing,
 * CreateKeysAndCertificate, CreatePolicy, AttachPolicy, AttachThingPrincipal — through
 * @aws-sdk/client-iot, with its credentials written as a device keeps them (dir 700, key 600).
 */
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreateThingCommand,
  type IoTClient,
} from "@aws-sdk/client-iot";
import { tempDir } from "./temp.ts";

export { jobsMinimumPolicy } from "../../src/service/identity/minimum-jobs-policy.ts";

export interface DeviceCredentials {
  readonly certificateArn: string;
  readonly certificateId: string;
  readonly cert: string;
  readonly key: string;
  readonly rootCa: string;
}

/** Writes a certificate and key as a device keeps them (dir 700, key 600). */
export function writeCredentials(certificatePem: string, privateKeyPem: string): { cert: string; key: string } {
  const dir = join(tempDir("device-creds-"), "certs");
  mkdirSync(dir, { mode: 0o700 });
  const cert = join(dir, "device.pem.crt");
  const key = join(dir, "private.pem.key");
  writeFileSync(cert, certificatePem, { mode: 0o644 });
  writeFileSync(key, privateKeyPem, { mode: 0o600 });
  chmodSync(key, 0o600);
  return { cert, key };
}

/** CreateKeysAndCertificate (ACTIVE unless told), written to files. */
export async function newCertificate(iot: IoTClient, rootCa: string, setAsActive = true): Promise<DeviceCredentials> {
  const r = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive }));
  const files = writeCredentials(r.certificatePem!, r.keyPair!.PrivateKey!);
  return { certificateArn: r.certificateArn!, certificateId: r.certificateId!, ...files, rootCa };
}

/** A thing with a certificate attached and `policyName` (created from `policy` when given) attached to it. */
export async function provisionDevice(
  iot: IoTClient,
  rootCa: string,
  thingName: string,
  policyName: string,
  policy?: string,
): Promise<DeviceCredentials> {
  await iot.send(new CreateThingCommand({ thingName }));
  const creds = await newCertificate(iot, rootCa);
  if (policy !== undefined) await iot.send(new CreatePolicyCommand({ policyName, policyDocument: policy }));
  await iot.send(new AttachPolicyCommand({ policyName, target: creds.certificateArn }));
  await iot.send(new AttachThingPrincipalCommand({ thingName, principal: creds.certificateArn }));
  return creds;
}
