/**
 * Who a connection is and what it may do, as AWS IoT decides it: the certificate the TLS peer
 * presented (by the SHA-256 of its DER: issued by the local CA or registered without a CA) must
 * be known and ACTIVE; the policies attached to it decide Connect, Publish, Subscribe and Receive
 * (identity/policy.ts); `${iot:Connection.Thing.*}` resolves only when the client id is a thing
 * attached to that certificate.
 *
 * On the plain listener there is no certificate. In the open development mode the client id is
 * trusted (thing-policy.ts); with policies enforced there, the client id names the thing and the
 * policies of its ACTIVE certificates apply, as if the device had presented one of them.
 */
import { arn, type Certificate } from "../model.ts";
import type { Identity } from "../identity/identity.ts";
import { decide, type Decision, type IotAction, type NamedPolicy, type PolicyContext } from "../identity/policy.ts";
import type { Fleet } from "../registry/fleet.ts";

/** A connection's principal once CONNECT is accepted. */
export interface PolicySession {
  readonly clientId: string;
  /** The certificate presented over TLS (undefined on the plain listener). */
  readonly certificateId?: string;
  readonly context: PolicyContext;
  readonly policies: () => readonly NamedPolicy[];
}

export type ConnectDecision =
  | { readonly allowed: true; readonly session: PolicySession }
  | { readonly allowed: false; readonly reason: string; readonly action?: IotAction; readonly resource?: string };

export const resourceOf = (action: IotAction, name: string): string =>
  arn(`${action === "iot:Connect" ? "client" : action === "iot:Subscribe" ? "topicfilter" : "topic"}/${name}`);

export class IotAuthorizer {
  constructor(
    private readonly identity: Identity,
    private readonly fleet: Fleet,
  ) {}

  private contextFor(clientId: string, things: readonly string[]): PolicyContext {
    if (!things.includes(clientId) || !this.fleet.hasThing(clientId)) return { clientId };
    const t = this.fleet.thing(clientId);
    return {
      clientId,
      thing: {
        thingName: t.thingName,
        attributes: t.attributes,
        ...(t.thingTypeName ? { thingTypeName: t.thingTypeName } : {}),
      },
    };
  }

  /** CONNECT over mutual TLS with the certificate whose id is `certificateId`. */
  connectWithCertificate(certificateId: string, clientId: string): ConnectDecision {
    const cert = this.identity.findCertificate(certificateId);
    if (!cert)
      return {
        allowed: false,
        reason:
          `certificate ${certificateId} is not registered ` +
          "(CreateKeysAndCertificate, RegisterCertificateWithoutCA)",
      };
    if (cert.status !== "ACTIVE")
      return {
        allowed: false,
        reason: `certificate ${certificateId} ${statusAndFix(cert.status)}`,
      };
    const session: PolicySession = {
      clientId,
      certificateId,
      context: this.contextFor(clientId, cert.things),
      policies: () => this.policiesOfCertificate(certificateId),
    };
    return this.connectDecision(session);
  }

  /** CONNECT on the plain listener with policies enforced: the policies of the thing's ACTIVE certificates. */
  connectByClientId(clientId: string): ConnectDecision {
    if (!this.fleet.hasThing(clientId))
      return { allowed: false, reason: `client id ${clientId} is not a registered thing (CreateThing first)` };
    const active = (): Certificate[] => this.identity.principalsOf(clientId).filter((c) => c.status === "ACTIVE");
    const attached = this.identity.principalsOf(clientId);
    if (attached.length === 0)
      return { allowed: false, reason: `thing ${clientId} has no certificate attached (AttachThingPrincipal)` };
    if (!attached.some((c) => c.status === "ACTIVE"))
      return {
        allowed: false,
        reason: `thing ${clientId} has no ACTIVE certificate: ${attached
          .map((c) => `${c.certificateId} ${statusAndFix(c.status)}`)
          .join(", ")}`,
      };
    const session: PolicySession = {
      clientId,
      context: this.contextFor(clientId, [clientId]),
      policies: () => {
        const seen = new Map<string, NamedPolicy>();
        for (const c of active()) for (const p of this.identity.policiesOf(c)) seen.set(p.name, p);
        return [...seen.values()];
      },
    };
    return this.connectDecision(session);
  }

  private connectDecision(session: PolicySession): ConnectDecision {
    const resource = resourceOf("iot:Connect", session.clientId);
    const d = decide(session.policies(), "iot:Connect", resource, session.context);
    return d.allowed
      ? { allowed: true, session }
      : { allowed: false, reason: d.reason, action: "iot:Connect", resource };
  }

  /** Publish (topic), Subscribe (filter) or Receive (topic) for an accepted session. */
  decide(
    session: PolicySession,
    action: Exclude<IotAction, "iot:Connect">,
    name: string,
  ): Decision & { resource: string } {
    const resource = resourceOf(action, name);
    return { ...decide(session.policies(), action, resource, session.context), resource };
  }

  private policiesOfCertificate(certificateId: string): NamedPolicy[] {
    const cert = this.identity.findCertificate(certificateId);
    return cert ? this.identity.policiesOf(cert) : [];
  }
}

/** "is <status>" and what makes the certificate usable again: an INACTIVE one is activated; a REVOKED one never is. */
function statusAndFix(status: Certificate["status"]): string {
  return status === "REVOKED"
    ? "is REVOKED, for good (a revoked certificate cannot be activated: create a new one, CreateKeysAndCertificate, " +
        "and attach it)"
    : `is ${status} (UpdateCertificate --new-status ACTIVE)`;
}
