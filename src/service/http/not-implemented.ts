/**
 * Why each operation a Jobs or Package Catalog user might call is not implemented here: "planned"
 * (will be), or "refused" (out of what a local Jobs service is for). The router quotes the reason
 * in its NotImplementedException; docs/LOCAL-SERVICE.md's operations table is generated from it.
 * Keys are `api:Operation`.
 */
export interface NotImplemented {
  readonly status: "planned" | "refused";
  readonly reason: string;
}

const planned = (reason: string): NotImplemented => ({ status: "planned", reason });
const refused = (reason: string): NotImplemented => ({ status: "refused", reason });

const THING_TYPES = planned("changing a thing type's MQTT 5 configuration (the local broker speaks MQTT 3.1.1)");
const PRINCIPALS = planned("the V2 listings (ListThingPrincipals and ListPrincipalThings are implemented)");
const CA_REGISTRATION = planned(
  "registering your own CA (RegisterCertificateWithoutCA and the local CA cover devices)",
);
const TRANSFER = refused("certificate transfers between AWS accounts have no meaning locally");
const PROVIDERS = refused("certificate providers (Lambda-signed CSRs) need AWS Lambda");
const LEGACY_POLICY = refused(
  "deprecated principal-policy calls: use AttachPolicy, DetachPolicy, ListAttachedPolicies",
);
const BILLING = refused("billing groups have no meaning locally");
const REGISTRATION = refused("bulk registration tasks read from S3");
const SBOM = refused("SBOMs are stored in S3");

export const NOT_IMPLEMENTED: Readonly<Record<string, NotImplemented>> = {
  "iot:AcceptCertificateTransfer": TRANSFER,
  "iot:CancelCertificateTransfer": TRANSFER,
  "iot:RejectCertificateTransfer": TRANSFER,
  "iot:TransferCertificate": TRANSFER,
  "iot:ListOutgoingCertificates": TRANSFER,
  "iot:AttachPrincipalPolicy": LEGACY_POLICY,
  "iot:DetachPrincipalPolicy": LEGACY_POLICY,
  "iot:ListPrincipalPolicies": LEGACY_POLICY,
  "iot:ListPolicyPrincipals": LEGACY_POLICY,
  "iot:CreateCertificateProvider": PROVIDERS,
  "iot:DeleteCertificateProvider": PROVIDERS,
  "iot:DescribeCertificateProvider": PROVIDERS,
  "iot:ListCertificateProviders": PROVIDERS,
  "iot:UpdateCertificateProvider": PROVIDERS,
  "iot:DeleteCACertificate": CA_REGISTRATION,
  "iot:DescribeCACertificate": CA_REGISTRATION,
  "iot:ListCACertificates": CA_REGISTRATION,
  "iot:ListCertificatesByCA": CA_REGISTRATION,
  "iot:RegisterCACertificate": CA_REGISTRATION,
  "iot:RegisterCertificate": CA_REGISTRATION,
  "iot:UpdateCACertificate": CA_REGISTRATION,
  "iot:GetEffectivePolicies": planned("the effective policies of a principal (the broker logs the deciding statement)"),
  "iot:ListTargetsForPolicy": planned("the targets of a policy"),
  "iot:AddThingToBillingGroup": BILLING,
  "iot:AssociateSbomWithPackageVersion": SBOM,
  "iot:DeleteJobExecution": planned("deleting single executions"),
  "iot:DescribeThingRegistrationTask": REGISTRATION,
  "iot:DisassociateSbomFromPackageVersion": SBOM,
  "iot:GetThingConnectivityData": planned("connectivity from the embedded broker"),
  "iot:ListPrincipalThingsV2": PRINCIPALS,
  "iot:ListThingPrincipalsV2": PRINCIPALS,
  "iot:ListThingRegistrationTaskReports": REGISTRATION,
  "iot:ListThingRegistrationTasks": REGISTRATION,
  "iot:ListThingsInBillingGroup": BILLING,
  "iot:RegisterThing": refused("provisioning templates and certificates"),
  "iot:RemoveThingFromBillingGroup": BILLING,
  "iot:StartThingRegistrationTask": REGISTRATION,
  "iot:StopThingRegistrationTask": REGISTRATION,
  "iot:UpdateDynamicThingGroup": planned("changing a dynamic group's query"),
  "iot:UpdateIndexingConfiguration": refused("the fleet index configuration is fixed locally"),
  "iot:UpdateThingGroupsForThing": planned("moving a thing between several groups in one call"),
  "iot:UpdateThingType": THING_TYPES,
  "iot-data:DeleteConnection": refused("disconnecting clients over HTTP"),
  "iot-data:GetRetainedMessage": planned("retained messages of the embedded broker"),
  "iot-data:ListRetainedMessages": planned("retained messages of the embedded broker"),
  "iot-data:Publish": planned("publishing over HTTP"),
  "iot-jobs-data:StartCommandExecution": refused("AWS IoT commands are a different feature than Jobs"),
};
