/**
 * Devices' identities and what they may do, as AWS IoT keeps them: certificates (issued by the
 * data directory's CA, or registered without a CA), their status, the things and the IoT
 * policies attached to them. The broker asks `principalOf` who a TLS peer is and `policiesOf`
 * what it may do; status changes are announced (`onStatusChange`) so a revoked certificate's
 * sessions end at once.
 *
 * AWS's preconditions: DeleteCertificate needs a certificate that is not ACTIVE, with no thing
 * and (without forceDelete) no policy attached; DeletePolicy needs it detached from every target.
 */
import { ServiceError } from "../errors.ts";
import { ACCOUNT, arn, type Certificate, type CertificateStatus, type IotPolicy, type LocalCa } from "../model.ts";
import type { Fleet } from "../registry/fleet.ts";
import type { Store } from "../store.ts";
import { type NamedPolicy, parsePolicy } from "./policy.ts";
import { createCa, issueFromCsr, issueServerCertificate, issueWithNewKeys, parseCertificate } from "./x509.ts";

export const certificateArn = (id: string) => arn(`cert/${id}`);
export const policyArn = (name: string) => arn(`policy/${name}`);
const CA_KEY = "ca";
const THINGS_INDEX = "certificate.things";

/** A certificate id (64 hex) from an id or a certificate ARN, as the principal and target members carry them. */
export function certificateIdFrom(principal: string): string {
  const m = /^arn:aws:iot:[^:]*:[^:]*:cert\/([0-9a-f]{64})$/.exec(principal) ?? /^([0-9a-f]{64})$/.exec(principal);
  if (!m)
    throw new ServiceError(
      "InvalidRequest",
      `${principal} is not a certificate ARN (only certificates are principals here)`,
    );
  return m[1]!;
}

export class Identity {
  private readonly statusListeners: ((certificateId: string, status: CertificateStatus) => void)[] = [];
  private readonly parsed = new Map<string, { text: string; policy: NamedPolicy }>();

  constructor(
    private readonly store: Store,
    private readonly fleet: Fleet,
    /** Epoch milliseconds (the service's clock). */
    private readonly now: () => number,
  ) {
    store.defineIndex("certificate", THINGS_INDEX, (c) => c.things);
  }

  private seconds(): number {
    return Math.floor(this.now() / 1000);
  }

  /** The CA being made (concurrent first calls share it, so no certificate is signed by a discarded CA). */
  private making: Promise<LocalCa> | undefined;

  /** The data directory's CA, created on first use and kept in the store. */
  async ca(): Promise<LocalCa> {
    const existing = this.store.get("localCa", CA_KEY);
    if (existing) return existing;
    this.making ??= createCa(this.now()).then((made) => {
      this.store.put("localCa", CA_KEY, made);
      return made;
    });
    try {
      return await this.making;
    } finally {
      this.making = undefined;
    }
  }

  async serverCertificate(hosts: readonly string[]) {
    return issueServerCertificate(await this.ca(), this.now(), hosts);
  }

  onStatusChange(listener: (certificateId: string, status: CertificateStatus) => void): void {
    this.statusListeners.push(listener);
  }

  async createKeysAndCertificate(setAsActive: boolean) {
    const issued = await issueWithNewKeys(await this.ca(), this.now());
    const cert = this.save(issued, setAsActive ? "ACTIVE" : "INACTIVE", true);
    return { cert, keyPair: { PublicKey: issued.publicKeyPem, PrivateKey: issued.privateKeyPem } };
  }

  async createCertificateFromCsr(csr: string, setAsActive: boolean): Promise<Certificate> {
    const issued = await issueFromCsr(await this.ca(), csr, this.now());
    return this.save(issued, setAsActive ? "ACTIVE" : "INACTIVE", true);
  }

  registerWithoutCa(pem: string, status: CertificateStatus | undefined): Certificate {
    const parsed = parseCertificate(pem);
    if (this.store.get("certificate", parsed.certificateId))
      throw new ServiceError("ResourceAlreadyExists", `Certificate ${parsed.certificateId} is already registered`);
    if (status !== undefined && status !== "ACTIVE" && status !== "INACTIVE")
      throw new ServiceError("CertificateState", `A certificate is registered ACTIVE or INACTIVE, not ${status}`);
    return this.save(parsed, status ?? "INACTIVE", false);
  }

  private save(
    issued: { certificateId: string; certificatePem: string; notBefore: number; notAfter: number },
    status: CertificateStatus,
    issuedByLocalCa: boolean,
  ): Certificate {
    const now = this.seconds();
    // The sequence and the record commit together.
    return this.store.transaction(() => {
      const sequence = this.store.next("certificateSequence");
      const cert: Certificate = {
        certificateId: issued.certificateId,
        certificatePem: issued.certificatePem,
        status,
        certificateMode: issuedByLocalCa ? "DEFAULT" : "SNI_ONLY",
        issuedByLocalCa,
        ownedBy: ACCOUNT,
        creationDate: now,
        lastModifiedDate: now,
        validity: { notBefore: Math.floor(issued.notBefore / 1000), notAfter: Math.floor(issued.notAfter / 1000) },
        sequence,
        things: [],
        policies: [],
      };
      this.store.put("certificate", cert.certificateId, cert);
      return cert;
    });
  }

  certificate(id: string): Certificate {
    const cert = this.store.get("certificate", id);
    if (!cert) throw new ServiceError("ResourceNotFound", `Certificate ${id} does not exist`);
    return cert;
  }

  /** The certificate a TLS peer presented (by the SHA-256 of its DER), if it is known here. */
  findCertificate(id: string): Certificate | undefined {
    return this.store.get("certificate", id);
  }

  certificates(): Certificate[] {
    return [...this.store.all("certificate")].sort((a, b) => a.sequence - b.sequence);
  }

  updateStatus(id: string, status: CertificateStatus): void {
    const cert = this.certificate(id);
    if (cert.status === status) return;
    if (cert.status === "REVOKED" && status === "ACTIVE")
      throw new ServiceError("CertificateState", `Certificate ${id} is REVOKED and cannot be activated`);
    if (!["ACTIVE", "INACTIVE", "REVOKED"].includes(status))
      throw new ServiceError(
        "InvalidRequest",
        `newStatus ${status} is for certificate transfers, which are not implemented`,
      );
    this.store.put("certificate", id, { ...cert, status, lastModifiedDate: this.seconds() });
    this.store.afterCommit(() => {
      for (const listener of this.statusListeners) listener(id, status);
    });
  }

  deleteCertificate(id: string, force: boolean): void {
    const cert = this.certificate(id);
    if (cert.status === "ACTIVE")
      throw new ServiceError(
        "CertificateState",
        `Certificate must be deactivated (not ACTIVE) before deletion. Id: ${id}`,
      );
    if (cert.things.length > 0)
      throw new ServiceError("DeleteConflict", `Certificate ${id} is attached to things: ${cert.things.join(", ")}`);
    if (cert.policies.length > 0 && !force)
      throw new ServiceError("DeleteConflict", `Certificate ${id} has policies attached: ${cert.policies.join(", ")}`);
    this.store.delete("certificate", id);
  }

  attachThing(thingName: string, principal: string): void {
    this.fleet.thing(thingName); // ResourceNotFound
    const cert = this.certificate(certificateIdFrom(principal));
    if (cert.things.includes(thingName)) return;
    this.store.put("certificate", cert.certificateId, { ...cert, things: [...cert.things, thingName] });
  }

  detachThing(thingName: string, principal: string): void {
    this.fleet.thing(thingName);
    const cert = this.certificate(certificateIdFrom(principal));
    this.store.put("certificate", cert.certificateId, { ...cert, things: cert.things.filter((t) => t !== thingName) });
  }

  principalsOf(thingName: string): Certificate[] {
    this.fleet.thing(thingName);
    return this.store.records("certificate", THINGS_INDEX, thingName);
  }

  createPolicy(name: string, document: string): IotPolicy {
    if (this.store.get("policy", name))
      throw new ServiceError("ResourceAlreadyExists", `Policy ${name} already exists`);
    parsePolicy(document);
    const now = this.seconds();
    const policy: IotPolicy = {
      policyName: name,
      policyDocument: document,
      defaultVersionId: "1",
      versions: [{ versionId: "1", document, createDate: now }],
      nextVersionId: 2,
      creationDate: now,
      lastModifiedDate: now,
    };
    this.store.put("policy", name, policy);
    return policy;
  }

  /** AWS keeps at most 5 versions of a policy. */
  createPolicyVersion(name: string, document: string, setAsDefault: boolean): IotPolicy["versions"][number] {
    const p = this.policy(name);
    parsePolicy(document);
    if (p.versions.length >= 5)
      throw new ServiceError(
        "VersionsLimitExceeded",
        `The policy ${name} already has the maximum number of versions (5); delete one first`,
      );
    const version = { versionId: String(p.nextVersionId), document, createDate: this.seconds() };
    this.store.put("policy", name, {
      ...p,
      versions: [...p.versions, version],
      nextVersionId: p.nextVersionId + 1,
      lastModifiedDate: this.seconds(),
      ...(setAsDefault ? { defaultVersionId: version.versionId, policyDocument: document } : {}),
    });
    return version;
  }

  policyVersion(name: string, versionId: string): IotPolicy["versions"][number] {
    const v = this.policy(name).versions.find((x) => x.versionId === versionId);
    if (!v) throw new ServiceError("ResourceNotFound", `Policy ${name} has no version ${versionId}`);
    return v;
  }

  setDefaultPolicyVersion(name: string, versionId: string): void {
    const v = this.policyVersion(name, versionId);
    const p = this.policy(name);
    this.store.put("policy", name, {
      ...p,
      defaultVersionId: versionId,
      policyDocument: v.document,
      lastModifiedDate: this.seconds(),
    });
  }

  deletePolicyVersion(name: string, versionId: string): void {
    this.policyVersion(name, versionId);
    const p = this.policy(name);
    if (p.defaultVersionId === versionId)
      throw new ServiceError("DeleteConflict", "Cannot delete the default version of a policy");
    this.store.put("policy", name, { ...p, versions: p.versions.filter((x) => x.versionId !== versionId) });
  }

  policy(name: string): IotPolicy {
    const policy = this.store.get("policy", name);
    if (!policy) throw new ServiceError("ResourceNotFound", `Policy ${name} does not exist`);
    return policy;
  }

  policies(): IotPolicy[] {
    return [...this.store.all("policy")].sort((a, b) => a.policyName.localeCompare(b.policyName));
  }

  deletePolicy(name: string): void {
    const policy = this.policy(name);
    if (policy.versions.length > 1)
      throw new ServiceError(
        "DeleteConflict",
        `The policy cannot be deleted as versions other than the default version exist (name=${name})`,
      );
    const users = this.certificates().filter((c) => c.policies.includes(name));
    if (users.length > 0)
      throw new ServiceError(
        "DeleteConflict",
        `The policy cannot be deleted as the policy is attached to one or more principals (name=${name})`,
      );
    this.store.delete("policy", name);
  }

  attachPolicy(name: string, target: string): void {
    this.policy(name);
    const cert = this.certificate(certificateIdFrom(target));
    if (cert.policies.includes(name)) return;
    this.store.put("certificate", cert.certificateId, { ...cert, policies: [...cert.policies, name] });
  }

  detachPolicy(name: string, target: string): void {
    const cert = this.certificate(certificateIdFrom(target));
    this.store.put("certificate", cert.certificateId, { ...cert, policies: cert.policies.filter((p) => p !== name) });
  }

  /** The parsed policies attached to a certificate (parsed once per document text). */
  policiesOf(cert: Certificate): NamedPolicy[] {
    const out: NamedPolicy[] = [];
    for (const name of cert.policies) {
      const stored = this.store.get("policy", name);
      if (!stored) continue;
      let cached = this.parsed.get(name);
      if (cached?.text !== stored.policyDocument) {
        cached = { text: stored.policyDocument, policy: { name, policy: parsePolicy(stored.policyDocument) } };
        this.parsed.set(name, cached);
      }
      out.push(cached.policy);
    }
    return out;
  }
}
