/**
 * Certificates, principals, IoT policies and DescribeEndpoint (iot): the identity half of AWS IoT,
 * over identity/identity.ts. Markers and next tokens are page indexes (shapes.ts `page`).
 */
import { ServiceError } from "../../errors.ts";
import {
  certificateArn,
  certificateIdFrom as certificateIdOf,
  type Identity,
  policyArn,
} from "../../identity/identity.ts";
import type { Certificate } from "../../model.ts";
import type { Operations } from "../router.ts";
import { NO_TAGS, page, withToken } from "../shapes.ts";

/** Where devices and tools reach this service, by DescribeEndpoint's endpointType. */
export type Endpoints = (endpointType: string) => string | undefined;

const marker = (nextToken: string | undefined) => (nextToken ? { nextMarker: nextToken } : {});

const description = (c: Certificate) => ({
  certificateArn: certificateArn(c.certificateId),
  certificateId: c.certificateId,
  status: c.status,
  certificatePem: c.certificatePem,
  ownedBy: c.ownedBy,
  creationDate: c.creationDate,
  lastModifiedDate: c.lastModifiedDate,
  customerVersion: 1,
  generationId: String(c.lastModifiedDate),
  validity: c.validity,
  certificateMode: c.certificateMode,
});

export function identityRoutes(identity: Identity, endpoints: Endpoints): Operations {
  return {
    CreateKeysAndCertificate: {
      honours: ["setAsActive"],
      handle: async (input) => {
        const { cert, keyPair } = await identity.createKeysAndCertificate(input.setAsActive === true);
        return {
          certificateArn: certificateArn(cert.certificateId),
          certificateId: cert.certificateId,
          certificatePem: cert.certificatePem,
          keyPair,
        };
      },
    },
    CreateCertificateFromCsr: {
      honours: ["certificateSigningRequest", "setAsActive"],
      handle: async (input) => {
        const cert = await identity.createCertificateFromCsr(
          input.certificateSigningRequest,
          input.setAsActive === true,
        );
        return {
          certificateArn: certificateArn(cert.certificateId),
          certificateId: cert.certificateId,
          certificatePem: cert.certificatePem,
        };
      },
    },
    RegisterCertificateWithoutCA: {
      honours: ["certificatePem", "status"],
      handle: (input) => {
        const cert = identity.registerWithoutCa(input.certificatePem, input.status);
        return { certificateArn: certificateArn(cert.certificateId), certificateId: cert.certificateId };
      },
    },
    DescribeCertificate: {
      honours: ["certificateId"],
      handle: (input) => ({ certificateDescription: description(identity.certificate(input.certificateId)) }),
    },
    ListCertificates: {
      honours: ["pageSize", "marker", "ascendingOrder"],
      handle: (input) => {
        const all = identity.certificates();
        if (input.ascendingOrder !== true) all.reverse();
        const p = page(all, input.pageSize, input.marker, 25);
        return {
          certificates: p.items.map((c) => ({
            certificateArn: certificateArn(c.certificateId),
            certificateId: c.certificateId,
            status: c.status,
            certificateMode: c.certificateMode,
            creationDate: c.creationDate,
          })),
          ...marker(p.nextToken),
        };
      },
    },
    UpdateCertificate: {
      honours: ["certificateId", "newStatus"],
      handle: (input) => void identity.updateStatus(input.certificateId, input.newStatus),
    },
    DeleteCertificate: {
      honours: ["certificateId", "forceDelete"],
      handle: (input) => void identity.deleteCertificate(input.certificateId, input.forceDelete === true),
    },
    AttachThingPrincipal: {
      honours: ["thingName", "principal"],
      refuses: { thingPrincipalType: "exclusive thing attachments are not implemented" },
      handle: (input) => void identity.attachThing(input.thingName, input.principal),
    },
    DetachThingPrincipal: {
      honours: ["thingName", "principal"],
      handle: (input) => void identity.detachThing(input.thingName, input.principal),
    },
    ListThingPrincipals: {
      honours: ["thingName", "nextToken", "maxResults"],
      handle: (input) => {
        const arns = identity.principalsOf(input.thingName).map((c) => certificateArn(c.certificateId));
        const p = page(arns.sort(), input.maxResults, input.nextToken, 25);
        return { principals: p.items, ...withToken(p.nextToken) };
      },
    },
    ListPrincipalThings: {
      honours: ["principal", "nextToken", "maxResults"],
      handle: (input) => {
        const { things } = identity.certificate(certificateIdOf(input.principal));
        const p = page([...things].sort(), input.maxResults, input.nextToken, 25);
        return { things: p.items, ...withToken(p.nextToken) };
      },
    },
    DescribeEndpoint: {
      honours: ["endpointType"],
      handle: (input) => {
        const type: string = input.endpointType ?? "iot:Data";
        const endpointAddress = endpoints(type);
        if (endpointAddress === undefined)
          throw new ServiceError(
            "InvalidRequest",
            `endpointType ${type} has no local endpoint (iot:Data-ATS, iot:Data, iot:Jobs)`,
          );
        return { endpointAddress };
      },
    },
    CreatePolicy: {
      honours: ["policyName", "policyDocument"],
      refuses: { tags: NO_TAGS },
      handle: (input) => {
        const p = identity.createPolicy(input.policyName, input.policyDocument);
        return {
          policyName: p.policyName,
          policyArn: policyArn(p.policyName),
          policyDocument: p.policyDocument,
          policyVersionId: p.defaultVersionId,
        };
      },
    },
    CreatePolicyVersion: {
      honours: ["policyName", "policyDocument", "setAsDefault"],
      handle: (input) => {
        const v = identity.createPolicyVersion(input.policyName, input.policyDocument, input.setAsDefault === true);
        return {
          policyArn: policyArn(input.policyName),
          policyDocument: v.document,
          policyVersionId: v.versionId,
          isDefaultVersion: identity.policy(input.policyName).defaultVersionId === v.versionId,
        };
      },
    },
    GetPolicyVersion: {
      honours: ["policyName", "policyVersionId"],
      handle: (input) => {
        const p = identity.policy(input.policyName);
        const v = identity.policyVersion(input.policyName, input.policyVersionId);
        return {
          policyArn: policyArn(p.policyName),
          policyName: p.policyName,
          policyDocument: v.document,
          policyVersionId: v.versionId,
          isDefaultVersion: p.defaultVersionId === v.versionId,
          creationDate: v.createDate,
          lastModifiedDate: v.createDate,
          generationId: `${p.policyName}-${v.versionId}`,
        };
      },
    },
    ListPolicyVersions: {
      honours: ["policyName"],
      handle: (input) => {
        const p = identity.policy(input.policyName);
        return {
          policyVersions: [...p.versions].reverse().map((v) => ({
            versionId: v.versionId,
            isDefaultVersion: v.versionId === p.defaultVersionId,
            createDate: v.createDate,
          })),
        };
      },
    },
    SetDefaultPolicyVersion: {
      honours: ["policyName", "policyVersionId"],
      handle: (input) => void identity.setDefaultPolicyVersion(input.policyName, input.policyVersionId),
    },
    DeletePolicyVersion: {
      honours: ["policyName", "policyVersionId"],
      handle: (input) => void identity.deletePolicyVersion(input.policyName, input.policyVersionId),
    },
    GetPolicy: {
      honours: ["policyName"],
      handle: (input) => {
        const p = identity.policy(input.policyName);
        return {
          policyName: p.policyName,
          policyArn: policyArn(p.policyName),
          policyDocument: p.policyDocument,
          defaultVersionId: p.defaultVersionId,
          creationDate: p.creationDate,
          lastModifiedDate: p.lastModifiedDate,
          generationId: String(p.lastModifiedDate),
        };
      },
    },
    DeletePolicy: {
      honours: ["policyName"],
      handle: (input) => void identity.deletePolicy(input.policyName),
    },
    ListPolicies: {
      honours: ["marker", "pageSize", "ascendingOrder"],
      handle: (input) => {
        const all = identity.policies();
        if (input.ascendingOrder === false) all.reverse();
        const p = page(all, input.pageSize, input.marker, 25);
        return {
          policies: p.items.map((x) => ({ policyName: x.policyName, policyArn: policyArn(x.policyName) })),
          ...marker(p.nextToken),
        };
      },
    },
    AttachPolicy: {
      honours: ["policyName", "target"],
      handle: (input) => void identity.attachPolicy(input.policyName, input.target),
    },
    DetachPolicy: {
      honours: ["policyName", "target"],
      handle: (input) => void identity.detachPolicy(input.policyName, input.target),
    },
    ListAttachedPolicies: {
      honours: ["target", "recursive", "marker", "pageSize"],
      handle: (input) => {
        // Only certificates are targets here; `recursive` (thing group hierarchies) changes nothing for them.
        const cert = identity.certificate(certificateIdOf(input.target));
        const p = page(cert.policies, input.pageSize, input.marker, 25);
        return {
          policies: p.items.map((name) => ({ policyName: name, policyArn: policyArn(name) })),
          ...marker(p.nextToken),
        };
      },
    },
  };
}
