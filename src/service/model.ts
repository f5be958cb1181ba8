/**
 * The local Jobs service's records. Plain data: what the store persists and the APIs read.
 * Times are epoch seconds, as the Jobs API sends them.
 */
import type { JobExecutionStatus } from "../protocol/statuses.ts";

export interface Thing {
  readonly thingName: string;
  readonly thingId: string;
  attributes: Record<string, string>;
  thingTypeName?: string;
  version: number;
  /** Static groups this thing was added to. */
  groups: string[];
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
  description?: string;
  /** Static groups only: the parent in a hierarchy (AWS allows 7 levels). */
  readonly parentGroupName?: string;
  /** The group's own attributes (thingGroupProperties.attributePayload). */
  readonly attributes?: Readonly<Record<string, string>>;
  /** Dynamic groups: members are the things matching this fleet query. */
  queryString?: string;
  creationDate: number;
  version: number;
}

export type JobStatus = "IN_PROGRESS" | "CANCELED" | "COMPLETED" | "DELETION_IN_PROGRESS";

export interface Job {
  readonly jobId: string;
  readonly jobArn: string;
  readonly targets: string[];
  readonly targetSelection: "SNAPSHOT" | "CONTINUOUS";
  /** The document as deployed (after substitution), a JSON string. */
  readonly document: string;
  /** The document as given to CreateJob. */
  readonly documentBeforeSubstitution: string;
  readonly description?: string;
  readonly inProgressTimeoutInMinutes?: number;
  /** With `$default` resolved, as DescribeJob shows them. */
  readonly destinationPackageVersions: string[];
  /** As given to CreateJob (DescribeJob with beforeSubstitution). */
  readonly destinationPackageVersionsBeforeSubstitution: string[];
  status: JobStatus;
  forceCanceled?: boolean;
  comment?: string;
  reasonCode?: string;
  readonly createdAt: number;
  lastUpdatedAt: number;
  completedAt?: number;
  /** Order of creation, for FIFO among executions queued in the same second. */
  readonly sequence: number;
}

export interface Execution {
  readonly jobId: string;
  readonly thingName: string;
  readonly executionNumber: number;
  status: JobExecutionStatus;
  statusDetails: Record<string, string>;
  readonly queuedAt: number;
  startedAt?: number;
  lastUpdatedAt: number;
  versionNumber: number;
  forceCanceled?: boolean;
  /** Epoch ms when the step timer fires (IN_PROGRESS with stepTimeoutInMinutes). */
  stepDeadline?: number;
  /** Epoch ms when the job's in-progress timer fires. */
  inProgressDeadline?: number;
  /** Queue order: the job's sequence. */
  readonly sequence: number;
}

export type PackageVersionStatus = "DRAFT" | "PUBLISHED" | "DEPRECATED";

export interface SoftwarePackage {
  readonly packageName: string;
  description?: string;
  defaultVersionName?: string;
  readonly creationDate: number;
  lastModifiedDate: number;
  tags: Record<string, string>;
}

export interface PackageVersion {
  readonly packageName: string;
  readonly versionName: string;
  description?: string;
  attributes: Record<string, string>;
  status: PackageVersionStatus;
  recipe?: string;
  artifact?: unknown;
  readonly creationDate: number;
  lastModifiedDate: number;
  tags: Record<string, string>;
}

export interface Shadow {
  readonly thingName: string;
  /** "" is the classic (unnamed) shadow. */
  readonly shadowName: string;
  state: { desired?: Record<string, unknown>; reported?: Record<string, unknown> };
  metadata: { desired?: Record<string, unknown>; reported?: Record<string, unknown> };
  version: number;
  timestamp: number;
}

export interface PackageConfiguration {
  versionUpdateByJobsConfig: { enabled: boolean; roleArn?: string };
}

export const ACCOUNT = "123456789012";
export const REGION = "us-east-1";
export const arn = (resource: string) => `arn:aws:iot:${REGION}:${ACCOUNT}:${resource}`;

export { isPending, isTerminal } from "../protocol/statuses.ts";
