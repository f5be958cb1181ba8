/**
 * The local Jobs service's records. Plain, readonly data: what the store persists and the APIs
 * read; a change is a new record given to the store (store.ts). Times are epoch seconds, as the
 * Jobs API sends them.
 */
import type { JobExecutionStatus } from "../protocol/statuses.ts";
import type { SchedulingConfig } from "./jobs/schedule.ts";

export interface Thing {
  readonly thingName: string;
  readonly thingId: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly thingTypeName?: string;
  readonly version: number;
  /** Static groups this thing was added to. */
  readonly groups: readonly string[];
}

export interface ThingType {
  readonly thingTypeName: string;
  readonly thingTypeId: string;
  readonly description?: string;
  /** Up to 3 attribute names (AWS uses them to index; here they are kept and shown). */
  readonly searchableAttributes: readonly string[];
  readonly deprecated: boolean;
  readonly deprecationDate?: number;
  readonly creationDate: number;
}

export interface ThingGroup {
  readonly thingGroupName: string;
  readonly thingGroupId: string;
  readonly description?: string;
  /** Static groups only: the parent in a hierarchy (AWS allows 7 levels). */
  readonly parentGroupName?: string;
  /** The group's own attributes (thingGroupProperties.attributePayload). */
  readonly attributes?: Readonly<Record<string, string>>;
  /** Dynamic groups: members are the things matching this fleet query. */
  readonly queryString?: string;
  readonly creationDate: number;
  readonly version: number;
}

export type JobStatus = "IN_PROGRESS" | "CANCELED" | "COMPLETED" | "DELETION_IN_PROGRESS" | "SCHEDULED";

/** jobExecutionsRolloutConfig, as CreateJob / UpdateJob take it (checked by the model). */
export interface RolloutConfig {
  readonly maximumPerMinute?: number;
  readonly exponentialRate?: {
    readonly baseRatePerMinute: number;
    readonly incrementFactor: number;
    readonly rateIncreaseCriteria: {
      readonly numberOfNotifiedThings?: number;
      readonly numberOfSucceededThings?: number;
    };
  };
}

export interface AbortConfig {
  readonly criteriaList: readonly {
    readonly failureType: "FAILED" | "REJECTED" | "TIMED_OUT" | "ALL";
    readonly action: "CANCEL";
    readonly thresholdPercentage: number;
    readonly minNumberOfExecutedThings: number;
  }[];
}

export interface RetryConfig {
  readonly criteriaList: readonly {
    readonly failureType: "FAILED" | "TIMED_OUT" | "ALL";
    readonly numberOfRetries: number;
  }[];
}

/** Where a job's roll-out stands: things not reached yet, and the current (shortened) minute. */
export interface RolloutProgress {
  /** Targeted things without an execution yet, in the order they will be reached. */
  readonly unreached: readonly string[];
  /** Epoch ms when the current roll-out minute began. */
  readonly minuteStart: number;
  /** Things reached in the current minute. */
  readonly reachedThisMinute: number;
  /** The rate of the current minute, fixed when it began (rollout.ts); Infinity is stored as absent. */
  readonly minuteRate?: number;
  /** Things reached so far (numberOfNotifiedThings of the rate-increase criteria). */
  readonly notified: number;
}

/** A custom job template (CreateJobTemplate). */
export interface JobTemplate {
  readonly jobTemplateId: string;
  readonly jobTemplateArn: string;
  readonly description: string;
  readonly document: string;
  readonly createdAt: number;
  readonly timeoutConfig?: { readonly inProgressTimeoutInMinutes?: number };
  readonly jobExecutionsRolloutConfig?: RolloutConfig;
  readonly abortConfig?: AbortConfig;
  readonly jobExecutionsRetryConfig?: RetryConfig;
  readonly destinationPackageVersions?: readonly string[];
  readonly maintenanceWindows?: readonly { readonly startTime: string; readonly durationInMinutes: number }[];
}

export interface Job {
  readonly jobId: string;
  readonly jobArn: string;
  readonly targets: readonly string[];
  readonly targetSelection: "SNAPSHOT" | "CONTINUOUS";
  /** The document as deployed (after substitution), a JSON string. */
  readonly document: string;
  /** The document as given to CreateJob. */
  readonly documentBeforeSubstitution: string;
  readonly description?: string;
  readonly inProgressTimeoutInMinutes?: number;
  /** Pre-signed S3 URLs in the document are made at each delivery, valid this long. */
  readonly presignedUrlConfig?: { readonly roleArn?: string; readonly expiresInSec: number };
  /** With `$default` resolved, as DescribeJob shows them. */
  readonly destinationPackageVersions: readonly string[];
  /** As given to CreateJob (DescribeJob with beforeSubstitution). */
  readonly destinationPackageVersionsBeforeSubstitution: readonly string[];
  readonly status: JobStatus;
  readonly forceCanceled?: boolean;
  readonly comment?: string;
  readonly reasonCode?: string;
  readonly createdAt: number;
  readonly lastUpdatedAt: number;
  readonly completedAt?: number;
  /** Order of creation, for FIFO among executions queued in the same second. */
  readonly sequence: number;
  /** The template the job was made from (managed or custom). */
  readonly jobTemplateArn?: string;
  /** A managed template's parameters, as given. */
  readonly documentParameters?: Readonly<Record<string, string>>;
  readonly rolloutConfig?: RolloutConfig;
  readonly abortConfig?: AbortConfig;
  readonly retryConfig?: RetryConfig;
  /** Set while a roll-out config or a schedule holds things back (rollout.ts). */
  readonly rollout?: RolloutProgress;
  readonly schedulingConfig?: SchedulingConfig;
  /** The end of the schedule (endTime) was applied. */
  readonly scheduleEnded?: boolean;
}

export interface Execution {
  readonly jobId: string;
  readonly thingName: string;
  readonly executionNumber: number;
  readonly status: JobExecutionStatus;
  readonly statusDetails: Readonly<Record<string, string>>;
  readonly queuedAt: number;
  readonly startedAt?: number;
  readonly lastUpdatedAt: number;
  readonly versionNumber: number;
  readonly forceCanceled?: boolean;
  /** Epoch ms when the step timer fires (IN_PROGRESS with stepTimeoutInMinutes). */
  readonly stepDeadline?: number;
  /** Epoch ms when the job's in-progress timer fires. */
  readonly inProgressDeadline?: number;
  /** Queue order: the job's sequence. */
  readonly sequence: number;
  /** 0 for the first execution of a job on a thing; n for its n-th retry (jobExecutionsRetryConfig). */
  readonly retryAttempt?: number;
  /** A later execution of the same job on the same thing exists (a retry, a re-join): not the thing's latest. */
  readonly superseded?: boolean;
}

export type PackageVersionStatus = "DRAFT" | "PUBLISHED" | "DEPRECATED";

export interface SoftwarePackage {
  readonly packageName: string;
  readonly description?: string;
  readonly defaultVersionName?: string;
  readonly creationDate: number;
  readonly lastModifiedDate: number;
}

export interface PackageVersion {
  readonly packageName: string;
  readonly versionName: string;
  readonly description?: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly status: PackageVersionStatus;
  readonly recipe?: string;
  readonly artifact?: unknown;
  readonly creationDate: number;
  readonly lastModifiedDate: number;
}

export interface Shadow {
  readonly thingName: string;
  /** "" is the classic (unnamed) shadow. */
  readonly shadowName: string;
  readonly state: { readonly desired?: Record<string, unknown>; readonly reported?: Record<string, unknown> };
  readonly metadata: { readonly desired?: Record<string, unknown>; readonly reported?: Record<string, unknown> };
  readonly version: number;
  readonly timestamp: number;
}

export type CertificateStatus =
  | "ACTIVE"
  | "INACTIVE"
  | "REVOKED"
  | "PENDING_TRANSFER"
  | "REGISTER_INACTIVE"
  | "PENDING_ACTIVATION";

/** An X.509 certificate known to the service (a device's identity, as on AWS IoT). */
export interface Certificate {
  /** SHA-256 of the DER, in hex (AWS's certificate id). */
  readonly certificateId: string;
  readonly certificatePem: string;
  readonly status: CertificateStatus;
  /** Issued by this data directory's CA, or registered without a CA. */
  readonly certificateMode: "DEFAULT" | "SNI_ONLY";
  readonly issuedByLocalCa: boolean;
  readonly ownedBy: string;
  readonly creationDate: number;
  readonly lastModifiedDate: number;
  readonly validity: { readonly notBefore: number; readonly notAfter: number };
  /** Order of creation (ListCertificates sorts by it). */
  readonly sequence: number;
  /** Things attached to this principal (AttachThingPrincipal). */
  readonly things: readonly string[];
  /** IoT policies attached to this principal (AttachPolicy). */
  readonly policies: readonly string[];
}

/** An AWS IoT policy: its versions (at most 5, as AWS) and which one applies. */
export interface IotPolicy {
  readonly policyName: string;
  /** The default version's document (JSON text as given): the one evaluated. */
  readonly policyDocument: string;
  readonly defaultVersionId: string;
  readonly versions: readonly { readonly versionId: string; readonly document: string; readonly createDate: number }[];
  /** The id the next CreatePolicyVersion gets (ids are never reused). */
  readonly nextVersionId: number;
  readonly creationDate: number;
  readonly lastModifiedDate: number;
}

/** The data directory's certificate authority (key kept in the store, as the data directory is 0700). */
export interface LocalCa {
  readonly certificatePem: string;
  /** PKCS#8 PEM. Never logged, never answered over HTTP. */
  readonly privateKeyPem: string;
}

/** An S3 bucket of the artifact store (s3/objects.ts). */
export interface S3Bucket {
  readonly name: string;
  readonly creationDate: number;
}

export interface S3Object {
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  /** MD5 hex (quoted in headers), or `<md5 of part md5s>-<parts>` for multipart objects. */
  readonly etag: string;
  readonly sha256: string;
  readonly contentType: string;
  /** Epoch ms. */
  readonly lastModified: number;
  /** File name under the objects directory. */
  readonly file: string;
}

export interface PackageConfiguration {
  readonly versionUpdateByJobsConfig: { readonly enabled: boolean; readonly roleArn?: string };
}

export const ACCOUNT = "123456789012";
export const REGION = "us-east-1";
export const arn = (resource: string) => `arn:aws:iot:${REGION}:${ACCOUNT}:${resource}`;

export { isPending, isTerminal } from "../protocol/statuses.ts";
