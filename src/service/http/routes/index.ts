/** Every implemented operation, by API: what the router serves and the docs table lists. */
import type { PackageCatalog } from "../../catalog/packages.ts";
import type { JobControl } from "../../jobs/job-control.ts";
import type { JobsEngine } from "../../jobs/jobs-engine.ts";
import type { JobTemplates } from "../../jobs/job-templates.ts";
import type { Fleet } from "../../registry/fleet.ts";
import type { ThingTypes } from "../../registry/thing-types.ts";
import type { ShadowService } from "../../shadows/shadows.ts";
import type { ServiceName } from "../api-model.ts";
import type { Operations } from "../router.ts";
import type { Identity } from "../../identity/identity.ts";
import { groupRoutes } from "./groups.ts";
import { type Endpoints, identityRoutes } from "./identity.ts";
import { jobsDataRoutes } from "./jobs-data.ts";
import { jobRoutes } from "./jobs.ts";
import { jobTemplateRoutes } from "./job-templates.ts";
import { packageRoutes } from "./packages.ts";
import { type PublishShadow, shadowRoutes } from "./shadows.ts";
import { thingTypeRoutes } from "./thing-types.ts";
import { thingRoutes } from "./things.ts";

export interface HttpDeps {
  readonly fleet: Fleet;
  readonly thingTypes: ThingTypes;
  readonly jobs: JobControl;
  readonly jobTemplates: JobTemplates;
  readonly engine: JobsEngine;
  readonly catalog: PackageCatalog;
  readonly shadows: ShadowService;
  /** Publishes the MQTT side of an HTTP shadow change (accepted / delta / documents). */
  readonly publishShadow: PublishShadow;
  readonly now: () => number;
  /** Certificates and IoT policies. */
  readonly identity: Identity;
  /** DescribeEndpoint's answers. */
  readonly endpoints: Endpoints;
}

export function operations(d: HttpDeps): Record<ServiceName, Operations> {
  return {
    iot: {
      ...thingRoutes(d.fleet, d.thingTypes, d.identity),
      ...thingTypeRoutes(d.thingTypes, d.fleet),
      ...groupRoutes(d.fleet, d.shadows),
      ...jobRoutes(d.jobs, d.engine, d.fleet, d.now),
      ...jobTemplateRoutes(d.jobTemplates),
      ...packageRoutes(d.catalog, d.now),
      ...identityRoutes(d.identity, d.endpoints),
    },
    "iot-data": shadowRoutes(d.shadows, d.fleet, d.publishShadow, d.now),
    "iot-jobs-data": jobsDataRoutes(d.engine, d.fleet),
  };
}
