#!/usr/bin/env python3
"""
The model test: drives every operation iot-jobs-local implements (iot, iot-data, iot-jobs-data)
through botocore with only an endpoint override, and judges each raw response (caught by a
`before-parse` hook, before botocore's lenient parser) by botocore's own models: output shapes,
the declared HTTP status, declared error codes with their status. Every input member of every
implemented operation gets model-violating values (too long, outside the pattern, enum or range),
each of which must be refused; and a valid value of it must be honoured: observed (a later read
shows its effect: a Describe/Get/List, a filter's effect on the listed items, a stale version or
a reused clientToken refused, ...), or refused by name where the service does not support it. Being
accepted is not enough. The few members no read can show are listed, each with its reason, in
UNOBSERVABLE.

  python3 test/model/test_model.py --endpoint http://127.0.0.1:PORT --implemented iot:CreateThing,...
  python3 test/model/test_model.py --endpoint ... --self-test   # a deliberately broken case must be caught

Prints one line per finding and "N passed, M failed"; exits 1 on findings, 77 without botocore.
"""
import argparse
import datetime
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import botocore.session
    from botocore.config import Config
    from botocore.exceptions import ClientError
    from botocore import xform_name
except ImportError:
    print("SKIP: botocore is not installed (pip install botocore) — the model test needs its models")
    sys.exit(77)
from model_check import Checker  # noqa: E402

ACCOUNT = "arn:aws:iot:us-east-1:123456789012"
# Valid values of the CreateJob/UpdateJob members this service refuses by name.
UNSUPPORTED_JOB_MEMBERS = {
    "presignedUrlConfig": {"roleArn": f"{ACCOUNT}:role/abcdefghijklmnopqrst", "expiresInSec": 60},
    "namespaceId": "ns",
    "documentSource": "https://s3.amazonaws.com/bucket/doc.json",
    "tags": [{"Key": "k", "Value": "v"}],
}
ROLLOUT = {"maximumPerMinute": 5}
EXPONENTIAL = {"exponentialRate": {"baseRatePerMinute": 2, "incrementFactor": 1.5,
                                   "rateIncreaseCriteria": {"numberOfSucceededThings": 3}}}
ABORT = {"criteriaList": [{"failureType": "FAILED", "action": "CANCEL", "thresholdPercentage": 50.0,
                           "minNumberOfExecutedThings": 1}]}
RETRY = {"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 1}]}
MANAGED = "arn:aws:iot:us-east-1::jobtemplate/AWS-Run-Command:1.0"
# Members of UNSUPPORTED_JOB_MEMBERS that CreateJob honours (UpdateJob still refuses them).
CREATE_JOB_HONOURS = {"presignedUrlConfig"}
# The only input members whose effect no API read can show, each with the reason. Every other input member of an
# implemented operation must be observed (a later read shows its effect) or refused by name.
UNOBSERVABLE = {
    ("iot", "AddThingToThingGroup", "overrideDynamicGroups"):
        "acts only when a thing is at the 10-group membership limit, which this service does not have",
    ("iot", "ListAttachedPolicies", "recursive"):
        "walks thing group hierarchies; policies attach only to certificates here, so there is nothing to walk",
}
DOC = json.dumps({"version": "1.0", "steps": [{"action": {"name": "s", "type": "runCommand",
                                                          "input": {"command": "true"}}}]})


class Harness:
    def __init__(self, endpoint: str, mutate=None):
        session = botocore.session.get_session()
        config = Config(parameter_validation=False, retries={"max_attempts": 1})
        self.clients = {}
        self.checkers = {}
        self.findings: list = []
        self.checks = 0
        self.mutate = mutate
        for service in ("iot", "iot-data", "iot-jobs-data"):
            client = session.create_client(
                service, endpoint_url=endpoint, region_name="us-east-1",
                aws_access_key_id="local", aws_secret_access_key="local", config=config,
            )
            client.meta.events.register("before-parse", self._hook(service))
            self.clients[service] = client
            self.checkers[service] = Checker(client.meta.service_model)
        self.called: set = set()
        self.last_status = 0
        # Input members per operation whose effect a later read showed, and those refused by name.
        self.observed: dict = {}
        self.refused_names: dict = {}

    def _hook(self, service):
        def hook(operation_model, response_dict, **_):
            if self.mutate:
                self.mutate(service, operation_model.name, response_dict)
            self.checks += 1
            self.last_status = response_dict["status_code"]
            for f in self.checkers[service].check_response(operation_model.name, response_dict):
                self.findings.append(f"{service} {f}")
        return hook

    def call(self, service: str, op: str, **params) -> dict:
        self.called.add(f"{service}:{op}")
        try:
            result = getattr(self.clients[service], xform_name(op))(**params)
            return {"ok": True, **result}
        except ClientError as e:
            error = e.response.get("Error", {})
            return {"ok": False, "code": error.get("Code", "?"), "message": error.get("Message", ""),
                    "status": e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)}

    def ok(self, service, op, **params) -> dict:
        """A call that must succeed. It shows no member honoured by itself: a later read does (expect)."""
        r = self.call(service, op, **params)
        if not r["ok"]:
            self.findings.append(f"{service} {op}: failed with {r['code']}: {r['message']}")
        return r

    def refused_by_name(self, service, op, member, value, **params) -> None:
        """A valid value of a member this service does not support: refused, with the member named."""
        r = self.call(service, op, **params, **{member: value})
        if r["ok"] or member not in r["message"]:
            answer = "accepted" if r["ok"] else r["message"]
            self.findings.append(f"{service} {op}: {member} was not refused by name ({answer})")
        else:
            self.refused_names.setdefault((service, op), set()).add(member)

    def error(self, service, op, code, observes=None, **params) -> dict:
        """A call that must fail with `code`; the error is the read that shows `observes` (see expect)."""
        r = self.call(service, op, **params)
        got = "success" if r["ok"] else f"{r['code']}: {r['message']}"
        self.expect(not r["ok"] and r["code"] == code, f"{service} {op}: expected {code}, got {got}", observes)
        return r

    def refused(self, service, op, what, **params) -> None:
        self.call(service, op, **params)
        # Judged on the raw status the hook saw, not on what botocore made of it.
        if self.last_status < 300:
            self.findings.append(f"{service} {op}: {what} was accepted")
        elif self.last_status >= 500:
            self.findings.append(f"{service} {op}: {what} answered HTTP {self.last_status}")

    def paged(self, service, op, key, size="maxResults", cursor=("nextToken", "nextToken"), **params) -> list:
        """Lists one item per page, following the cursor (input member, output member); the pages together
        must equal the one-call list (which shows the page size and the cursor honoured)."""
        whole = self.ok(service, op, **params).get(key, [])
        pages, token = [], None
        for _ in range(len(whole) + 1):
            r = self.ok(service, op, **params, **{size: 1}, **({cursor[0]: token} if token else {}))
            pages += r.get(key, [])
            token = r.get(cursor[1])
            if not token:
                break
        self.expect(len(whole) >= 2, f"{service} {op}: the paging check needs at least 2 items, got {whole}")
        self.expect(pages == whole and len(whole) >= 2,
                    f"{service} {op}: paging by 1 gave {pages}, one call gave {whole}",
                    {f"{service}:{op}": f"{size} {cursor[0]}"})
        return whole

    def expect(self, condition: bool, message: str, observes: dict | None = None) -> None:
        """A check; when it holds, it shows the effect of the members in `observes`:
        {"Op" (an iot operation) or "service:Op": "member member ..."}."""
        self.checks += 1
        if not condition:
            self.findings.append(message)
            return
        for op, members in (observes or {}).items():
            service, name = op.split(":") if ":" in op else ("iot", op)
            self.observed.setdefault((service, name), set()).update(members.split())


_tokens = iter(range(1, 10**6))


def token() -> str:
    """A fresh clientToken (the model wants 36-64 characters)."""
    return f"m-token-0000-0000-0000-0000-{next(_tokens):012d}"


def scenario(h: Harness) -> dict:
    """Valid calls of every implemented operation; the honoured members are read back. Returns the
    base parameters per operation for the invalid-input sweep."""
    thing, group, dyn, job = "m-t1", "m-g1", "m-dg", "m-j1"
    h.ok("iot", "CreateThing", thingName=thing, attributePayload={"attributes": {"site": "lab"}})
    h.ok("iot", "CreateThing", thingName="m-t2")
    d = h.ok("iot", "DescribeThing", thingName=thing)
    h.expect(d.get("thingName") == thing and d.get("attributes") == {"site": "lab"},
             "CreateThing attributePayload not honoured",
             {"CreateThing": "thingName attributePayload", "DescribeThing": "thingName"})
    h.ok("iot", "UpdateThing", thingName=thing, expectedVersion=1, attributePayload={"attributes": {"rack": "7"},
                                                                                     "merge": True})
    d = h.ok("iot", "DescribeThing", thingName=thing)
    h.expect(d.get("attributes") == {"site": "lab", "rack": "7"} and d.get("version") == 2,
             f"UpdateThing attributePayload (merge) not honoured: {d}", {"UpdateThing": "thingName attributePayload"})
    h.error("iot", "UpdateThing", "VersionConflictException", {"UpdateThing": "expectedVersion"}, thingName=thing,
            expectedVersion=1, attributePayload={"attributes": {}})
    h.error("iot", "CreateThing", "ResourceNotFoundException", thingName="m-typed", thingTypeName="no-such-type")
    h.error("iot", "DescribeThing", "ResourceNotFoundException", thingName="m-typed")
    lt = h.ok("iot", "ListThings", attributeName="site", attributeValue="la", usePrefixAttributeValue=True)
    exact = h.ok("iot", "ListThings", attributeName="site", attributeValue="la").get("things", [])
    h.expect([t["thingName"] for t in lt.get("things", [])] == [thing] and exact == [],
             "ListThings usePrefixAttributeValue not honoured",
             {"ListThings": "attributeName attributeValue usePrefixAttributeValue"})
    lt = h.ok("iot", "ListThings", maxResults=1)
    h.expect(len(lt.get("things", [])) == 1 and "nextToken" in lt, "ListThings maxResults not honoured",
             {"ListThings": "maxResults"})
    lt2 = h.ok("iot", "ListThings", maxResults=1, nextToken=lt.get("nextToken", "1"))
    h.expect([t["thingName"] for t in lt2.get("things", [])] == ["m-t2"], "ListThings nextToken not honoured",
             {"ListThings": "nextToken"})

    h.ok("iot", "CreateThingGroup", thingGroupName=group, thingGroupProperties={"thingGroupDescription": "a group"})
    g = h.ok("iot", "DescribeThingGroup", thingGroupName=group)
    h.expect(g.get("thingGroupName") == group
             and g.get("thingGroupProperties", {}).get("thingGroupDescription") == "a group",
             "thingGroupDescription not honoured",
             {"CreateThingGroup": "thingGroupName thingGroupProperties", "DescribeThingGroup": "thingGroupName"})
    h.ok("iot", "CreateDynamicThingGroup", thingGroupName=dyn, queryString="attributes.site:lab",
         indexName="AWS_Things", queryVersion="2017-09-30",
         thingGroupProperties={"thingGroupDescription": "lab things"})
    dg = h.ok("iot", "DescribeThingGroup", thingGroupName=dyn)
    h.expect(dg.get("thingGroupProperties") == {"thingGroupDescription": "lab things"}
             and (dg.get("indexName"), dg.get("queryString"), dg.get("queryVersion"))
             == ("AWS_Things", "attributes.site:lab", "2017-09-30"),
             f"CreateDynamicThingGroup not honoured: {dg}",
             {"CreateDynamicThingGroup": "thingGroupName thingGroupProperties indexName queryString queryVersion"})
    # Only AWS_Things and one query language version exist here: other values are refused, so both are read.
    h.error("iot", "CreateDynamicThingGroup", "ResourceNotFoundException", thingGroupName="m-dg-x",
            queryString="thingName:x", indexName="AWS_ThingGroups")
    h.error("iot", "CreateDynamicThingGroup", "InvalidRequestException", thingGroupName="m-dg-x",
            queryString="thingName:x", queryVersion="2099-01-01")
    h.ok("iot", "AddThingToThingGroup", thingGroupName=group, thingName=thing, overrideDynamicGroups=True)
    h.ok("iot", "AddThingToThingGroup", thingGroupArn=f"{ACCOUNT}:thinggroup/{group}", thingArn=f"{ACCOUNT}:thing/m-t2")
    members = h.paged("iot", "ListThingsInThingGroup", "things", thingGroupName=group)
    h.expect(members == [thing, "m-t2"], f"AddThingToThingGroup (by name and by ARN) not honoured: {members}",
             {"AddThingToThingGroup": "thingGroupName thingName thingGroupArn thingArn",
              "ListThingsInThingGroup": "thingGroupName"})
    groups = [x["groupName"] for x in h.ok("iot", "ListThingGroups", namePrefixFilter="m-d").get("thingGroups", [])]
    h.expect(groups == [dyn], f"ListThingGroups namePrefixFilter not honoured: {groups}",
             {"ListThingGroups": "namePrefixFilter"})
    h.paged("iot", "ListThingGroups", "thingGroups")
    mine = [x["groupName"] for x in h.paged("iot", "ListThingGroupsForThing", "thingGroups", thingName=thing)]
    # (overrideDynamicGroups=True above left the thing in its dynamic group: there is no membership limit here.)
    h.expect(mine == [dyn, group], f"ListThingGroupsForThing: {mine}", {"ListThingGroupsForThing": "thingName"})
    h.expect(h.ok("iot", "DescribeIndex", indexName="AWS_Things").get("indexName") == "AWS_Things", "DescribeIndex")
    h.error("iot", "DescribeIndex", "ResourceNotFoundException", {"DescribeIndex": "indexName"},
            indexName="AWS_ThingGroups")
    h.ok("iot", "GetIndexingConfiguration")
    found = h.ok("iot", "SearchIndex", queryString="attributes.rack:7", indexName="AWS_Things")
    h.expect([t["thingName"] for t in found.get("things", [])] == [thing], "SearchIndex queryString not honoured",
             {"SearchIndex": "queryString"})
    h.error("iot", "SearchIndex", "ResourceNotFoundException", {"SearchIndex": "indexName"},
            queryString="thingName:x", indexName="AWS_ThingGroups")
    h.error("iot", "SearchIndex", "InvalidRequestException", {"SearchIndex": "queryVersion"},
            queryString="thingName:x", queryVersion="2099-01-01")
    found = h.paged("iot", "SearchIndex", "things", queryString="thingName:m-t*", queryVersion="2017-09-30")
    h.expect([t["thingName"] for t in found] == [thing, "m-t2"], f"SearchIndex paging: {found}")

    h.ok("iot", "CreateJob", jobId=job, targets=[f"{ACCOUNT}:thing/{thing}"], document=DOC, description="first",
         targetSelection="SNAPSHOT", timeoutConfig={"inProgressTimeoutInMinutes": 30})
    h.ok("iot", "CreateJob", jobId="m-roll", targets=[f"{ACCOUNT}:thing/m-t2"], document=DOC,
         jobExecutionsRolloutConfig=ROLLOUT, abortConfig=ABORT, jobExecutionsRetryConfig=RETRY)
    start = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    end = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M")
    scheduling = {"startTime": start, "endTime": end, "endBehavior": "CANCEL",
                  "maintenanceWindows": [{"startTime": "cron(0 * * * ? *)", "durationInMinutes": 30}]}
    h.ok("iot", "CreateJob", jobId="m-sched", targets=[f"{ACCOUNT}:thing/m-t2"], document=DOC,
         schedulingConfig=scheduling)
    sj = h.ok("iot", "DescribeJob", jobId="m-sched").get("job", {})
    h.expect(sj.get("status") == "SCHEDULED" and sj.get("schedulingConfig") == scheduling
             and len(sj.get("scheduledJobRollouts", [])) > 0, f"CreateJob schedulingConfig not honoured: {sj}",
             {"CreateJob": "schedulingConfig"})
    h.ok("iot", "DeleteJob", jobId="m-sched", force=True)
    h.error("iot", "DescribeJob", "ResourceNotFoundException", {"DeleteJob": "jobId"}, jobId="m-sched")
    dj = h.ok("iot", "DescribeJob", jobId="m-roll").get("job", {})
    h.expect(dj.get("jobExecutionsRolloutConfig") == ROLLOUT and dj.get("abortConfig") == ABORT
             and dj.get("jobExecutionsRetryConfig") == RETRY, f"CreateJob configs not honoured: {dj}",
             {"CreateJob": "jobExecutionsRolloutConfig abortConfig jobExecutionsRetryConfig"})
    dj = h.ok("iot", "DescribeJob", jobId=job).get("job", {})
    h.expect((dj.get("jobId"), dj.get("description"), dj.get("targets"), dj.get("targetSelection"))
             == (job, "first", [f"{ACCOUNT}:thing/{thing}"], "SNAPSHOT")
             and dj.get("timeoutConfig", {}).get("inProgressTimeoutInMinutes") == 30,
             f"CreateJob jobId/description/targets/targetSelection/timeoutConfig not honoured: {dj}",
             {"CreateJob": "jobId description targets targetSelection timeoutConfig", "DescribeJob": "jobId"})
    got = h.ok("iot", "GetJobDocument", jobId=job).get("document", "{}")
    h.expect(json.loads(got) == json.loads(DOC), "GetJobDocument", {"CreateJob": "document", "GetJobDocument": "jobId"})
    h.ok("iot", "CreateJob", jobId="m-j2", targets=[f"{ACCOUNT}:thinggroup/{group}"], document=DOC,
         targetSelection="CONTINUOUS")
    listed = [j["jobId"] for j in h.ok("iot", "ListJobs", targetSelection="CONTINUOUS").get("jobs", [])]
    h.expect(listed == ["m-j2"], f"ListJobs targetSelection not honoured: {listed}", {"ListJobs": "targetSelection"})
    listed = [j["jobId"] for j in h.ok("iot", "ListJobs", thingGroupName=group, status="IN_PROGRESS").get("jobs", [])]
    h.expect(listed == ["m-j2"], f"ListJobs thingGroupName not honoured: {listed}", {"ListJobs": "thingGroupName"})
    gid = g.get("thingGroupId", "")
    listed = [j["jobId"] for j in h.ok("iot", "ListJobs", thingGroupId=gid).get("jobs", [])]
    h.expect(listed == ["m-j2"], f"ListJobs thingGroupId not honoured: {listed}", {"ListJobs": "thingGroupId"})
    mine = [e["jobId"] for e in h.ok("iot", "ListJobExecutionsForThing", thingName=thing,
                                     jobId="m-j2").get("executionSummaries", [])]
    h.expect(mine == ["m-j2"], f"ListJobExecutionsForThing jobId not honoured: {mine}",
             {"ListJobExecutionsForThing": "jobId thingName"})
    h.paged("iot", "ListJobs", "jobs")
    h.paged("iot", "ListJobExecutionsForThing", "executionSummaries", thingName=thing, status="QUEUED")
    h.paged("iot", "ListJobExecutionsForJob", "executionSummaries", jobId="m-j2", status="QUEUED")
    h.ok("iot", "RemoveThingFromThingGroup", thingGroupName=group, thingName="m-t2")
    left = h.ok("iot", "ListJobExecutionsForJob", jobId="m-j2").get("executionSummaries", [])
    h.expect([e["jobExecutionSummary"]["status"] for e in left] == ["QUEUED", "REMOVED"],
             f"RemoveThingFromThingGroup not honoured: {left}",
             {"RemoveThingFromThingGroup": "thingGroupName thingName", "ListJobExecutionsForJob": "jobId"})
    removed = h.ok("iot", "ListJobExecutionsForJob", jobId="m-j2", status="REMOVED").get("executionSummaries", [])
    h.expect([e["thingArn"] for e in removed] == [f"{ACCOUNT}:thing/m-t2"],
             f"ListJobExecutionsForJob status not honoured: {removed}", {"ListJobExecutionsForJob": "status"})
    x = h.ok("iot", "DescribeJobExecution", jobId=job, thingName=thing, executionNumber=1).get("execution", {})
    h.expect((x.get("jobId"), x.get("thingArn"), x.get("executionNumber")) == (job, f"{ACCOUNT}:thing/{thing}", 1),
             f"DescribeJobExecution: {x}", {"DescribeJobExecution": "jobId thingName executionNumber"})
    h.error("iot", "DescribeJobExecution", "ResourceNotFoundException", {"DescribeJobExecution": "executionNumber"},
            jobId=job, thingName=thing, executionNumber=2)

    h.ok("iot", "CreateThingGroup", thingGroupName="m-g2")
    h.ok("iot", "CreateThing", thingName="m-t3")
    h.ok("iot", "AddThingToThingGroup", thingGroupName="m-g2", thingName="m-t3")
    h.ok("iot", "AssociateTargetsWithJob", jobId="m-j2", targets=[f"{ACCOUNT}:thinggroup/m-g2"], comment="wider")
    dj = h.ok("iot", "DescribeJob", jobId="m-j2").get("job", {})
    h.expect(dj.get("targets") == [f"{ACCOUNT}:thinggroup/{group}",
                                   f"{ACCOUNT}:thinggroup/m-g2"] and dj.get("comment") == "wider",
             f"AssociateTargetsWithJob not honoured: {dj.get('targets')} {dj.get('comment')}",
             {"AssociateTargetsWithJob": "jobId targets comment"})
    queued = h.ok("iot", "ListJobExecutionsForThing", thingName="m-t3", jobId="m-j2").get("executionSummaries", [])
    h.expect(len(queued) == 1, f"AssociateTargetsWithJob did not reach the new group's thing: {queued}")
    h.error("iot", "AssociateTargetsWithJob", "InvalidRequestException", jobId=job,
            targets=[f"{ACCOUNT}:thinggroup/m-g2"])
    h.ok("iot", "DeleteThing", thingName="m-t3")
    h.error("iot", "DescribeThing", "ResourceNotFoundException", {"DeleteThing": "thingName"}, thingName="m-t3")
    pending = h.ok("iot-jobs-data", "GetPendingJobExecutions", thingName=thing)
    h.expect([j["jobId"] for j in pending.get("queuedJobs", [])] == [job, "m-j2"],
             f"GetPendingJobExecutions: {pending.get('queuedJobs')}",
             {"iot-jobs-data:GetPendingJobExecutions": "thingName"})
    jx = h.ok("iot-jobs-data", "DescribeJobExecution", thingName=thing, jobId=job, includeJobDocument=True,
              executionNumber=1).get("execution", {})
    bare = h.ok("iot-jobs-data", "DescribeJobExecution", thingName=thing, jobId=job, includeJobDocument=False)
    h.expect((jx.get("jobId"), jx.get("thingName"), jx.get("executionNumber")) == (job, thing, 1)
             and json.loads(jx.get("jobDocument", "{}")) == json.loads(DOC)
             and "jobDocument" not in bare.get("execution", {"jobDocument": 1}),
             f"iot-jobs-data DescribeJobExecution: {jx} {bare}",
             {"iot-jobs-data:DescribeJobExecution": "jobId thingName includeJobDocument executionNumber"})
    h.error("iot-jobs-data", "DescribeJobExecution", "ResourceNotFoundException",
            {"iot-jobs-data:DescribeJobExecution": "executionNumber"}, thingName=thing, jobId=job, executionNumber=2)
    started = h.ok("iot-jobs-data", "StartNextPendingJobExecution", thingName=thing, statusDetails={"step": "1"},
                   stepTimeoutInMinutes=5).get("execution", {})
    h.expect((started.get("thingName"), started.get("statusDetails")) == (thing, {"step": "1"})
             and 240 < started.get("approximateSecondsBeforeTimedOut", 0) <= 300,
             f"StartNextPendingJobExecution not honoured: {started}",
             {"iot-jobs-data:StartNextPendingJobExecution": "thingName statusDetails stepTimeoutInMinutes"})
    mid = h.ok("iot-jobs-data", "UpdateJobExecution", thingName=thing, jobId=job, status="IN_PROGRESS",
               stepTimeoutInMinutes=10)
    later = h.ok("iot-jobs-data", "DescribeJobExecution", thingName=thing, jobId=job).get("execution", {})
    h.expect("executionState" not in mid and later.get("versionNumber") == 3
             and 540 < later.get("approximateSecondsBeforeTimedOut", 0) <= 600,
             f"UpdateJobExecution stepTimeoutInMinutes: {mid} {later}",
             {"iot-jobs-data:UpdateJobExecution": "thingName jobId stepTimeoutInMinutes"})
    # IN_PROGRESS to SUCCEEDED is allowed: only the stale version is refused (the code the model declares for it).
    h.error("iot-jobs-data", "UpdateJobExecution", "InvalidStateTransitionException",
            {"iot-jobs-data:UpdateJobExecution": "expectedVersion"}, thingName=thing, jobId=job, status="SUCCEEDED",
            expectedVersion=2)
    h.error("iot-jobs-data", "UpdateJobExecution", "ResourceNotFoundException",
            {"iot-jobs-data:UpdateJobExecution": "executionNumber"}, thingName=thing, jobId=job, status="SUCCEEDED",
            executionNumber=2)
    up = h.ok("iot-jobs-data", "UpdateJobExecution", thingName=thing, jobId=job, status="SUCCEEDED",
              statusDetails={"r": "ok"},
              expectedVersion=3, includeJobExecutionState=True,
              includeJobDocument=True, executionNumber=1)
    h.expect(up.get("executionState", {}).get("status") == "SUCCEEDED"
             and up.get("executionState", {}).get("statusDetails") == {"r": "ok"}
             and json.loads(up.get("jobDocument", "{}")) == json.loads(DOC),
             f"UpdateJobExecution status/statusDetails/includeJobExecutionState/includeJobDocument: {up}",
             {"iot-jobs-data:UpdateJobExecution": "status statusDetails includeJobExecutionState includeJobDocument"})
    done = [e["jobId"] for e in h.ok("iot", "ListJobExecutionsForThing", thingName=thing,
                                     status="SUCCEEDED").get("executionSummaries", [])]
    h.expect(done == [job], f"ListJobExecutionsForThing status not honoured: {done}",
             {"ListJobExecutionsForThing": "status"})
    h.error("iot-jobs-data", "UpdateJobExecution", "InvalidStateTransitionException", thingName=thing, jobId=job,
            status="IN_PROGRESS")

    h.ok("iot-jobs-data", "StartNextPendingJobExecution", thingName=thing)
    # An IN_PROGRESS execution is canceled only with force; a stale expectedVersion is refused.
    h.error("iot", "CancelJobExecution", "InvalidStateTransitionException", jobId="m-j2", thingName=thing)
    h.error("iot", "CancelJobExecution", "VersionConflictException", {"CancelJobExecution": "expectedVersion"},
            jobId="m-j2", thingName=thing, expectedVersion=1, force=True)
    h.ok("iot", "CancelJobExecution", jobId="m-j2", thingName=thing, statusDetails={"why": "test"}, expectedVersion=2,
         force=True)
    e = h.ok("iot", "DescribeJobExecution", jobId="m-j2", thingName=thing).get("execution", {})
    details = e.get("statusDetails", {}).get("detailsMap")
    h.expect(e.get("status") == "CANCELED" and e.get("forceCanceled") is True and details == {"why": "test"},
             f"CancelJobExecution force/statusDetails not honoured: {e}",
             {"CancelJobExecution": "jobId thingName force statusDetails"})
    # CancelJob: QUEUED executions are canceled; IN_PROGRESS ones only with force.
    h.ok("iot", "CreateJob", jobId="m-j5", targets=[f"{ACCOUNT}:thing/{thing}", f"{ACCOUNT}:thing/m-t2"], document=DOC)
    h.ok("iot-jobs-data", "UpdateJobExecution", thingName="m-t2", jobId="m-j5", status="IN_PROGRESS")
    h.error("iot", "DeleteJob", "InvalidStateTransitionException", jobId="m-j5")
    h.ok("iot", "CancelJob", jobId="m-j5")
    states = [x["jobExecutionSummary"]["status"] for x in h.ok("iot", "ListJobExecutionsForJob",
                                                                jobId="m-j5").get("executionSummaries", [])]
    h.expect(states == ["CANCELED", "IN_PROGRESS"], f"CancelJob without force: {states}")
    h.ok("iot", "CancelJob", jobId="m-j5", comment="done", reasonCode="TEST_1", force=True)
    dj = h.ok("iot", "DescribeJob", jobId="m-j5").get("job", {})
    states = [x["jobExecutionSummary"]["status"] for x in h.ok("iot", "ListJobExecutionsForJob",
                                                                jobId="m-j5").get("executionSummaries", [])]
    h.expect(dj.get("comment") == "done" and dj.get("reasonCode") == "TEST_1" and dj.get("forceCanceled") is True
             and states == ["CANCELED", "CANCELED"], f"CancelJob comment/reasonCode/force not honoured: {dj} {states}",
             {"CancelJob": "jobId comment reasonCode force"})
    listed = [j["jobId"] for j in h.ok("iot", "ListJobs", status="CANCELED").get("jobs", [])]
    h.expect(listed == ["m-j5"], f"ListJobs status not honoured: {listed}", {"ListJobs": "status"})
    h.ok("iot", "DeleteJob", jobId="m-j5")
    # DeleteJob: an IN_PROGRESS job goes only with force.
    h.error("iot", "DeleteJob", "InvalidStateTransitionException", jobId="m-j2")
    h.ok("iot", "DeleteJob", jobId="m-j2", force=True)
    h.error("iot", "DescribeJob", "ResourceNotFoundException", {"DeleteJob": "force"}, jobId="m-j2")

    first = token()
    h.ok("iot", "CreatePackage", packageName="m-p", description="pkg", clientToken=first)
    h.ok("iot", "CreatePackage", packageName="m-p", description="pkg", clientToken=first)  # a retry
    h.error("iot", "CreatePackage", "ConflictException", {"CreatePackage": "clientToken"}, packageName="m-p",
            description="other", clientToken=first)
    h.ok("iot", "CreatePackage", packageName="m-p0")
    p = h.ok("iot", "GetPackage", packageName="m-p")
    h.expect((p.get("packageName"), p.get("description")) == ("m-p", "pkg"), "CreatePackage description not honoured",
             {"CreatePackage": "packageName description", "GetPackage": "packageName"})
    h.paged("iot", "ListPackages", "packageSummaries")
    # A version's artifact must exist in the service's S3: uploaded first with botocore's s3 client.
    s3 = botocore.session.get_session().create_client(
        "s3", endpoint_url=h.clients["iot"].meta.endpoint_url, region_name="us-east-1",
        aws_access_key_id="local", aws_secret_access_key="local", config=Config(s3={"addressing_style": "path"}))
    s3.create_bucket(Bucket="m-bucket")
    for key in ("k", "k2"):
        s3.put_object(Bucket="m-bucket", Key=key, Body=b"artifact")
    h.error("iot", "CreatePackageVersion", "ValidationException", packageName="m-p", versionName="m-missing",
            artifact={"s3Location": {"bucket": "m-bucket", "key": "none", "version": "1"}})
    artifact = {"s3Location": {"bucket": "m-bucket", "key": "k", "version": "1"}}
    t = token()
    h.ok("iot", "CreatePackageVersion", packageName="m-p", versionName="1.0", description="v", attributes={"k": "v"},
         recipe="r", artifact=artifact, clientToken=t)
    h.error("iot", "CreatePackageVersion", "ConflictException", {"CreatePackageVersion": "clientToken"},
            packageName="m-p", versionName="1.1", clientToken=t)
    v = h.ok("iot", "GetPackageVersion", packageName="m-p", versionName="1.0")
    h.expect((v.get("packageName"), v.get("versionName"), v.get("description"), v.get("attributes"), v.get("recipe"),
              v.get("artifact")) == ("m-p", "1.0", "v", {"k": "v"}, "r", artifact),
             f"CreatePackageVersion not honoured: {v}",
             {"CreatePackageVersion": "packageName versionName description attributes recipe artifact",
              "GetPackageVersion": "packageName versionName"})
    h.ok("iot", "CreatePackageVersion", packageName="m-p", versionName="0.9")
    t = token()
    h.ok("iot", "UpdatePackageVersion", packageName="m-p", versionName="1.0", description="v1", attributes={"k": "w"},
         recipe="r2",
         artifact={"s3Location": {"bucket": "m-bucket", "key": "k2", "version": "2"}}, clientToken=t)
    h.error("iot", "UpdatePackageVersion", "ConflictException", {"UpdatePackageVersion": "clientToken"},
            packageName="m-p", versionName="1.0", description="v2", clientToken=t)
    h.ok("iot", "UpdatePackageVersion", packageName="m-p", versionName="1.0", action="PUBLISH")
    v = h.ok("iot", "GetPackageVersion", packageName="m-p", versionName="1.0")
    h.expect(v.get("status") == "PUBLISHED" and v.get("attributes") == {"k": "w"} and v.get("recipe") == "r2"
             and v.get("description") == "v1" and v.get("artifact", {}).get("s3Location", {}).get("key") == "k2",
             f"UpdatePackageVersion not honoured: {v}",
             {"UpdatePackageVersion": "packageName versionName description attributes artifact action recipe"})
    t = token()
    h.ok("iot", "UpdatePackage", packageName="m-p", description="pkg2", defaultVersionName="1.0", clientToken=t)
    h.error("iot", "UpdatePackage", "ConflictException", {"UpdatePackage": "clientToken"}, packageName="m-p",
            description="pkg3", clientToken=t)
    p = h.ok("iot", "GetPackage", packageName="m-p")
    h.expect((p.get("description"), p.get("defaultVersionName")) == ("pkg2", "1.0"),
             f"UpdatePackage description/defaultVersionName not honoured: {p}",
             {"UpdatePackage": "packageName description defaultVersionName"})
    h.paged("iot", "ListPackageVersions", "packageVersionSummaries", packageName="m-p")
    published = h.ok("iot", "ListPackageVersions", packageName="m-p",
                     status="PUBLISHED").get("packageVersionSummaries", [])
    h.expect([x["versionName"] for x in published] == ["1.0"], f"ListPackageVersions status not honoured: {published}",
             {"ListPackageVersions": "packageName status"})
    placeholder = json.dumps({"k": "${aws:iot:package:m-p:version:$default:attributes:k}"})
    h.ok("iot", "CreateJob", jobId="m-j4", targets=[f"{ACCOUNT}:thing/{thing}"], document=placeholder,
         destinationPackageVersions=[f"{ACCOUNT}:package/m-p/version/$default"])
    after = h.ok("iot", "GetJobDocument", jobId="m-j4").get("document", "{}")
    before = h.ok("iot", "GetJobDocument", jobId="m-j4", beforeSubstitution=True).get("document", "{}")
    h.expect(json.loads(after) == {"k": "w"} and before == placeholder,
             f"GetJobDocument beforeSubstitution not honoured: {after} {before}",
             {"GetJobDocument": "beforeSubstitution"})
    dj = h.ok("iot", "DescribeJob", jobId="m-j4").get("job", {})
    h.expect(dj.get("destinationPackageVersions") == [f"{ACCOUNT}:package/m-p/version/1.0"],
             f"CreateJob destinationPackageVersions: {dj.get('destinationPackageVersions')}",
             {"CreateJob": "destinationPackageVersions"})
    dj = h.ok("iot", "DescribeJob", jobId="m-j4", beforeSubstitution=True).get("job", {})
    h.expect(dj.get("destinationPackageVersions") == [f"{ACCOUNT}:package/m-p/version/$default"],
             f"DescribeJob beforeSubstitution: {dj.get('destinationPackageVersions')}",
             {"DescribeJob": "beforeSubstitution"})
    h.ok("iot", "DeleteJob", jobId="m-j4", force=True)
    role = f"{ACCOUNT.replace(':iot:us-east-1:', ':iam::')}:role/m-role"
    t = token()
    h.ok("iot", "UpdatePackageConfiguration", versionUpdateByJobsConfig={"enabled": True, "roleArn": role},
         clientToken=t)
    h.error("iot", "UpdatePackageConfiguration", "ConflictException", {"UpdatePackageConfiguration": "clientToken"},
            versionUpdateByJobsConfig={"enabled": False}, clientToken=t)
    conf = h.ok("iot", "GetPackageConfiguration").get("versionUpdateByJobsConfig")
    h.expect(conf == {"enabled": True, "roleArn": role}, f"UpdatePackageConfiguration not honoured: {conf}",
             {"UpdatePackageConfiguration": "versionUpdateByJobsConfig"})
    h.ok("iot", "UpdatePackageConfiguration", versionUpdateByJobsConfig={"enabled": False})
    h.ok("iot", "UpdatePackage", packageName="m-p", unsetDefaultVersion=True)
    h.expect("defaultVersionName" not in h.ok("iot", "GetPackage", packageName="m-p"),
             "UpdatePackage unsetDefaultVersion not honoured", {"UpdatePackage": "unsetDefaultVersion"})
    t = token()
    h.ok("iot", "DeletePackageVersion", packageName="m-p", versionName="1.0", clientToken=t)
    h.error("iot", "GetPackageVersion", "ResourceNotFoundException",
            {"DeletePackageVersion": "packageName versionName"}, packageName="m-p", versionName="1.0")
    h.error("iot", "DeletePackageVersion", "ValidationException", {"DeletePackageVersion": "clientToken"},
            packageName="m-p", versionName="0.9", clientToken=t)
    h.ok("iot", "DeletePackageVersion", packageName="m-p", versionName="0.9")
    t = token()
    h.ok("iot", "DeletePackage", packageName="m-p", clientToken=t)
    h.error("iot", "GetPackage", "ResourceNotFoundException", {"DeletePackage": "packageName"}, packageName="m-p")
    h.error("iot", "DeletePackage", "ValidationException", {"DeletePackage": "clientToken"}, packageName="m-p0",
            clientToken=t)

    h.ok("iot-data", "UpdateThingShadow", thingName=thing, shadowName="cfg",
         payload=json.dumps({"state": {"desired": {"a": 1}}}).encode())
    s = json.loads(h.ok("iot-data", "GetThingShadow", thingName=thing, shadowName="cfg")["payload"].read())
    h.expect(s.get("state", {}).get("desired") == {"a": 1}, "UpdateThingShadow payload not honoured",
             {"iot-data:UpdateThingShadow": "thingName shadowName payload",
              "iot-data:GetThingShadow": "thingName shadowName"})
    h.error("iot-data", "GetThingShadow", "ResourceNotFoundException", thingName="m-t2", shadowName="cfg")
    h.ok("iot-data", "UpdateThingShadow", thingName=thing, shadowName="net",
         payload=b'{"state":{"reported":{"up":true}}}')
    names = h.paged("iot-data", "ListNamedShadowsForThing", "results", size="pageSize", thingName=thing)
    h.expect(names == ["cfg", "net"], f"ListNamedShadowsForThing: {names}",
             {"iot-data:ListNamedShadowsForThing": "thingName"})
    h.ok("iot-data", "DeleteThingShadow", thingName=thing, shadowName="cfg")
    h.error("iot-data", "GetThingShadow", "ResourceNotFoundException",
            {"iot-data:DeleteThingShadow": "thingName shadowName"}, thingName=thing, shadowName="cfg")
    h.ok("iot-data", "GetThingShadow", thingName=thing, shadowName="net")

    h.ok("iot", "RemoveThingFromThingGroup", thingGroupArn=f"{ACCOUNT}:thinggroup/{group}",
         thingArn=f"{ACCOUNT}:thing/{thing}")
    h.expect(h.ok("iot", "ListThingsInThingGroup", thingGroupName=group).get("things") == [],
             "RemoveThingFromThingGroup by ARN not honoured", {"RemoveThingFromThingGroup": "thingGroupArn thingArn"})
    # A stale expectedVersion is refused and the resource stays; the right one deletes it.
    h.error("iot", "DeleteThingGroup", "VersionConflictException", thingGroupName=group, expectedVersion=9)
    h.expect(h.ok("iot", "DescribeThingGroup", thingGroupName=group).get("version") == 1,
             "DeleteThingGroup with a stale expectedVersion", {"DeleteThingGroup": "expectedVersion"})
    h.ok("iot", "DeleteThingGroup", thingGroupName=group, expectedVersion=1)
    h.error("iot", "DescribeThingGroup", "ResourceNotFoundException", {"DeleteThingGroup": "thingGroupName"},
            thingGroupName=group)
    h.error("iot", "DeleteDynamicThingGroup", "VersionConflictException", thingGroupName=dyn, expectedVersion=9)
    h.expect(h.ok("iot", "DescribeThingGroup", thingGroupName=dyn).get("version") == 1,
             "DeleteDynamicThingGroup with a stale expectedVersion", {"DeleteDynamicThingGroup": "expectedVersion"})
    h.ok("iot", "DeleteDynamicThingGroup", thingGroupName=dyn, expectedVersion=1)
    h.error("iot", "DescribeThingGroup", "ResourceNotFoundException", {"DeleteDynamicThingGroup": "thingGroupName"},
            thingGroupName=dyn)
    h.error("iot", "DeleteThing", "VersionConflictException", thingName="m-t2", expectedVersion=7)
    h.expect(h.ok("iot", "DescribeThing", thingName="m-t2").get("version") == 1,
             "DeleteThing with a stale expectedVersion", {"DeleteThing": "expectedVersion"})
    h.ok("iot", "DeleteThing", thingName="m-t2", expectedVersion=1)
    # Thing group hierarchy and attributes.
    h.ok("iot", "CreateThingGroup", thingGroupName="m-root")
    h.ok("iot", "CreateThingGroup", thingGroupName="m-child", parentGroupName="m-root",
         thingGroupProperties={"attributePayload": {"attributes": {"floor": "2"}, "merge": False}})
    c = h.ok("iot", "DescribeThingGroup", thingGroupName="m-child")
    h.expect(c.get("thingGroupMetadata", {}).get("parentGroupName") == "m-root"
             and [x["groupName"] for x in c["thingGroupMetadata"].get("rootToParentThingGroups", [])] == ["m-root"],
             f"CreateThingGroup parentGroupName not honoured: {c.get('thingGroupMetadata')}",
             {"CreateThingGroup": "parentGroupName"})
    h.expect(c.get("thingGroupProperties", {}).get("attributePayload", {}).get("attributes") == {"floor": "2"},
             "CreateThingGroup attributePayload not honoured")
    h.ok("iot", "CreateThingGroup", thingGroupName="m-grand", parentGroupName="m-child")
    kids = [x["groupName"] for x in h.ok("iot", "ListThingGroups", parentGroup="m-root").get("thingGroups", [])]
    deep = [x["groupName"] for x in h.ok("iot", "ListThingGroups", parentGroup="m-root",
                                         recursive=True).get("thingGroups", [])]
    h.expect(kids == ["m-child"] and deep == ["m-child", "m-grand"],
             f"ListThingGroups parentGroup/recursive not honoured: {kids} {deep}",
             {"ListThingGroups": "parentGroup recursive"})
    h.ok("iot", "DeleteThingGroup", thingGroupName="m-grand")
    h.ok("iot", "AddThingToThingGroup", thingGroupName="m-child", thingName=thing)
    direct = h.ok("iot", "ListThingsInThingGroup", thingGroupName="m-root").get("things")
    deep = h.ok("iot", "ListThingsInThingGroup", thingGroupName="m-root", recursive=True).get("things")
    h.expect(direct == [] and deep == [thing], f"ListThingsInThingGroup recursive not honoured: {direct} {deep}",
             {"ListThingsInThingGroup": "recursive"})
    h.ok("iot", "CreateJob", jobId="m-j3", targets=[f"{ACCOUNT}:thinggroup/m-root"], document=DOC)
    summaries = h.ok("iot", "ListJobExecutionsForJob", jobId="m-j3").get("executionSummaries", [])
    reached = [e["thingArn"] for e in summaries]
    h.expect(reached == [f"{ACCOUNT}:thing/{thing}"],
             f"a job for a parent group did not reach a child group's thing: {reached}")
    h.ok("iot", "DeleteJob", jobId="m-j3", force=True)
    v = h.ok("iot", "UpdateThingGroup", thingGroupName="m-child", expectedVersion=1,
             thingGroupProperties={"thingGroupDescription": "second floor",
                                   "attributePayload": {"attributes": {"wing": "b"}, "merge": True}})
    h.expect(v.get("version") == 2, f"UpdateThingGroup version: {v.get('version')}")
    c = h.ok("iot", "DescribeThingGroup", thingGroupName="m-child")
    h.expect(c.get("thingGroupProperties") == {"thingGroupDescription": "second floor",
                                               "attributePayload": {"attributes": {"floor": "2", "wing": "b"}}},
             f"UpdateThingGroup not honoured: {c.get('thingGroupProperties')}",
             {"UpdateThingGroup": "thingGroupName thingGroupProperties"})
    h.error("iot", "UpdateThingGroup", "VersionConflictException", {"UpdateThingGroup": "expectedVersion"},
            thingGroupName="m-child", expectedVersion=1, thingGroupProperties={})
    h.error("iot", "DeleteThingGroup", "InvalidRequestException", thingGroupName="m-root")
    h.ok("iot", "DeleteThingGroup", thingGroupName="m-child")
    h.ok("iot", "DeleteThingGroup", thingGroupName="m-root")

    h.error("iot", "UpdateDynamicThingGroup", "NotImplementedException", thingGroupName="m-none",
            thingGroupProperties={})
    h.ok("iot", "UpdateJob", jobId=job, description="renamed", timeoutConfig={"inProgressTimeoutInMinutes": 45})
    dj = h.ok("iot", "DescribeJob", jobId=job).get("job", {})
    h.expect(dj.get("description") == "renamed" and dj.get("timeoutConfig") == {"inProgressTimeoutInMinutes": 45},
             f"UpdateJob not honoured: {dj.get('description')} {dj.get('timeoutConfig')}",
             {"UpdateJob": "jobId description timeoutConfig"})
    h.error("iot", "UpdateJob", "InvalidRequestException", jobId=job,
            timeoutConfig={"inProgressTimeoutInMinutes": 10081})
    for member in ["presignedUrlConfig", "namespaceId"]:
        value = UNSUPPORTED_JOB_MEMBERS[member]
        h.refused_by_name("iot", "UpdateJob", member, value, jobId=job)
    abort2 = {"criteriaList": [{**ABORT["criteriaList"][0], "thresholdPercentage": 60.0}]}
    retry2 = {"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 2}]}
    h.ok("iot", "UpdateJob", jobId="m-roll", jobExecutionsRolloutConfig=EXPONENTIAL, abortConfig=abort2,
         jobExecutionsRetryConfig=retry2)
    dj = h.ok("iot", "DescribeJob", jobId="m-roll").get("job", {})
    h.expect(dj.get("jobExecutionsRolloutConfig") == EXPONENTIAL and dj.get("abortConfig") == abort2
             and dj.get("jobExecutionsRetryConfig") == retry2, f"UpdateJob configs not honoured: {dj}",
             {"UpdateJob": "jobExecutionsRolloutConfig abortConfig jobExecutionsRetryConfig"})

    # Job templates: AWS managed (read-only) and custom.
    managed = h.paged("iot", "ListManagedJobTemplates", "managedJobTemplates")
    h.expect(len(managed) == 8, f"ListManagedJobTemplates: {managed}")
    one = h.ok("iot", "ListManagedJobTemplates", templateName="AWS-Reboot").get("managedJobTemplates", [])
    h.expect([t["templateName"] for t in one] == ["AWS-Reboot"], f"ListManagedJobTemplates templateName: {one}",
             {"ListManagedJobTemplates": "templateName"})
    mt = h.ok("iot", "DescribeManagedJobTemplate", templateName="AWS-Run-Command", templateVersion="1.0")
    h.expect([p["key"] for p in mt.get("documentParameters", [])] == ["command", "runAsUser"]
             and (mt.get("templateName"), mt.get("templateVersion")) == ("AWS-Run-Command", "1.0"),
             f"DescribeManagedJobTemplate: {mt}", {"DescribeManagedJobTemplate": "templateName"})
    h.error("iot", "DescribeManagedJobTemplate", "ResourceNotFoundException", templateName="AWS-None")
    h.error("iot", "DescribeManagedJobTemplate", "ResourceNotFoundException",
            {"DescribeManagedJobTemplate": "templateVersion"}, templateName="AWS-Run-Command", templateVersion="9.9")
    h.ok("iot", "CreateJob", jobId="m-managed", targets=[f"{ACCOUNT}:thing/{thing}"], jobTemplateArn=MANAGED,
         documentParameters={"command": "echo,hi"})
    got = json.loads(h.ok("iot", "GetJobDocument", jobId="m-managed").get("document", "{}"))
    h.expect(got.get("steps", [{}])[0].get("action", {}).get("input") == {"command": "echo,hi"},
             f"CreateJob documentParameters not honoured: {got}", {"CreateJob": "jobTemplateArn documentParameters"})

    h.error("iot", "CreateJob", "InvalidRequestException", jobId="m-managed2", targets=[f"{ACCOUNT}:thing/{thing}"],
            jobTemplateArn=MANAGED, documentParameters={})
    windows = [{"startTime": "cron(0 0 * * ? *)", "durationInMinutes": 30}]
    h.ok("iot", "CreateJobTemplate", jobTemplateId="m-tpl", description="tpl", document=DOC,
         jobExecutionsRolloutConfig=ROLLOUT, abortConfig=ABORT, timeoutConfig={"inProgressTimeoutInMinutes": 5},
         jobExecutionsRetryConfig=RETRY, destinationPackageVersions=[], maintenanceWindows=windows)
    t = h.ok("iot", "DescribeJobTemplate", jobTemplateId="m-tpl")
    h.expect(t.get("document") == DOC and t.get("jobExecutionsRolloutConfig") == ROLLOUT
             and t.get("abortConfig") == ABORT and t.get("jobExecutionsRetryConfig") == RETRY
             and t.get("timeoutConfig") == {"inProgressTimeoutInMinutes": 5}
             and t.get("destinationPackageVersions") == [] and t.get("maintenanceWindows") == windows
             and (t.get("jobTemplateId"), t.get("description")) == ("m-tpl", "tpl"),
             f"CreateJobTemplate not honoured: {t}",
             {"CreateJobTemplate": "jobTemplateId description document jobExecutionsRolloutConfig abortConfig "
                                   "timeoutConfig jobExecutionsRetryConfig destinationPackageVersions "
                                   "maintenanceWindows",
              "DescribeJobTemplate": "jobTemplateId"})
    h.ok("iot", "CreateJobTemplate", jobTemplateId="m-tpl2", description="copy", jobArn=f"{ACCOUNT}:job/m-roll")
    t2 = h.ok("iot", "DescribeJobTemplate", jobTemplateId="m-tpl2")
    h.expect(t2.get("abortConfig") == abort2, f"CreateJobTemplate jobArn not honoured: {t2}",
             {"CreateJobTemplate": "jobArn"})
    h.error("iot", "CreateJobTemplate", "ConflictException", jobTemplateId="m-tpl", description="x", document=DOC)
    for member, value in [("documentSource", "https://s3.amazonaws.com/b/d.json"),
                          ("presignedUrlConfig", UNSUPPORTED_JOB_MEMBERS["presignedUrlConfig"]),
                          ("tags", [{"Key": "k", "Value": "v"}])]:
        h.refused_by_name("iot", "CreateJobTemplate", member, value, jobTemplateId="m-tpl3", description="x",
                          document=DOC)
    h.paged("iot", "ListJobTemplates", "jobTemplates")
    h.ok("iot", "CreateJob", jobId="m-from-tpl", targets=[f"{ACCOUNT}:thing/{thing}"],
         jobTemplateArn=t.get("jobTemplateArn", ""))
    fj = h.ok("iot", "DescribeJob", jobId="m-from-tpl").get("job", {})
    h.expect(fj.get("jobExecutionsRolloutConfig") == ROLLOUT
             and fj.get("schedulingConfig", {}).get("maintenanceWindows") == windows,
             f"CreateJob jobTemplateArn (custom) not honoured: {fj}", {"CreateJob": "jobTemplateArn"})
    h.ok("iot", "DeleteJobTemplate", jobTemplateId="m-tpl2")
    h.error("iot", "DescribeJobTemplate", "ResourceNotFoundException", {"DeleteJobTemplate": "jobTemplateId"},
            jobTemplateId="m-tpl2")

    h.ok("iot", "CreateThingType", thingTypeName="m-type", thingTypeProperties={"thingTypeDescription": "sensors",
                                                                                "searchableAttributes": ["site"]})
    h.ok("iot", "CreateThingType", thingTypeName="m-type0")
    h.paged("iot", "ListThingTypes", "thingTypes")
    tt = h.ok("iot", "DescribeThingType", thingTypeName="m-type")
    h.expect(tt.get("thingTypeName") == "m-type"
             and tt.get("thingTypeProperties") == {"thingTypeDescription": "sensors", "searchableAttributes": ["site"]},
             f"CreateThingType thingTypeProperties not honoured: {tt}",
             {"CreateThingType": "thingTypeName thingTypeProperties", "DescribeThingType": "thingTypeName"})
    h.ok("iot", "CreateThing", thingName="m-typed", thingTypeName="m-type")
    h.expect(h.ok("iot", "DescribeThing", thingName="m-typed").get("thingTypeName") == "m-type",
             "CreateThing thingTypeName not honoured", {"CreateThing": "thingTypeName"})
    typed = [t["thingName"] for t in h.ok("iot", "ListThings", thingTypeName="m-type").get("things", [])]
    h.expect(typed == ["m-typed"], f"ListThings thingTypeName not honoured: {typed}", {"ListThings": "thingTypeName"})
    names = [t["thingTypeName"] for t in h.ok("iot", "ListThingTypes", thingTypeName="m-type",
                                              maxResults=5).get("thingTypes", [])]
    h.expect(names == ["m-type"], f"ListThingTypes thingTypeName: {names}", {"ListThingTypes": "thingTypeName"})
    h.ok("iot", "DeprecateThingType", thingTypeName="m-type")
    h.expect(h.ok("iot", "DescribeThingType", thingTypeName="m-type")["thingTypeMetadata"]["deprecated"] is True,
             "DeprecateThingType not honoured", {"DeprecateThingType": "thingTypeName"})
    h.error("iot", "UpdateThing", "InvalidRequestException", thingName=thing, thingTypeName="m-type")
    h.error("iot", "DeleteThingType", "InvalidRequestException", thingTypeName="m-type")
    h.ok("iot", "UpdateThing", thingName="m-typed", removeThingType=True)
    h.expect("thingTypeName" not in h.ok("iot", "DescribeThing", thingName="m-typed"),
             "UpdateThing removeThingType not honoured", {"UpdateThing": "removeThingType"})
    h.ok("iot", "DeprecateThingType", thingTypeName="m-type", undoDeprecate=True)
    h.ok("iot", "UpdateThing", thingName="m-typed", thingTypeName="m-type")
    h.expect(h.ok("iot", "DescribeThingType", thingTypeName="m-type")["thingTypeMetadata"]["deprecated"] is False
             and h.ok("iot", "DescribeThing", thingName="m-typed").get("thingTypeName") == "m-type",
             "undoDeprecate not honoured", {"DeprecateThingType": "undoDeprecate", "UpdateThing": "thingTypeName"})
    h.ok("iot", "DeleteThing", thingName="m-typed")
    h.ok("iot", "DeprecateThingType", thingTypeName="m-type")
    h.ok("iot", "DeleteThingType", thingTypeName="m-type")
    h.error("iot", "DescribeThingType", "ResourceNotFoundException", {"DeleteThingType": "thingTypeName"},
            thingTypeName="m-type")

    # Base parameters for the invalid-input sweep: each is valid as given (or its own refusal is checked separately).
    return {
        ("iot", "CreateThing"): {"thingName": "m-sweep", "attributePayload": {"attributes": {"a": "b"}}},
        ("iot", "DescribeThing"): {"thingName": thing},
        ("iot", "UpdateThing"): {"thingName": thing, "attributePayload": {"attributes": {"a": "b"}}},
        ("iot", "DeleteThing"): {"thingName": "m-none"},
        ("iot", "ListThings"): {},
        ("iot", "CreateThingType"): {"thingTypeName": "m-sweep"},
        ("iot", "DescribeThingType"): {"thingTypeName": "m-none"},
        ("iot", "ListThingTypes"): {},
        ("iot", "DeprecateThingType"): {"thingTypeName": "m-none"},
        ("iot", "DeleteThingType"): {"thingTypeName": "m-none"},
        ("iot", "CreateThingGroup"): {"thingGroupName": "m-sweep",
                                      "thingGroupProperties": {"thingGroupDescription": "d"}},
        ("iot", "CreateDynamicThingGroup"): {"thingGroupName": "m-sweep-d", "queryString": "thingName:x"},
        ("iot", "DescribeThingGroup"): {"thingGroupName": group},
        ("iot", "DeleteThingGroup"): {"thingGroupName": "m-none"},
        ("iot", "UpdateThingGroup"): {"thingGroupName": "m-none", "thingGroupProperties": {}},
        ("iot", "DeleteDynamicThingGroup"): {"thingGroupName": "m-none"},
        ("iot", "AddThingToThingGroup"): {"thingGroupName": "m-none", "thingName": thing},
        ("iot", "RemoveThingFromThingGroup"): {"thingGroupName": "m-none", "thingName": thing},
        ("iot", "ListThingsInThingGroup"): {"thingGroupName": "m-none"},
        ("iot", "ListThingGroups"): {},
        ("iot", "ListThingGroupsForThing"): {"thingName": thing},
        ("iot", "SearchIndex"): {"queryString": "thingName:x"},
        ("iot", "DescribeIndex"): {"indexName": "AWS_Things"},
        ("iot", "GetIndexingConfiguration"): {},
        ("iot", "CreateJob"): {"jobId": "m-sweep", "targets": [f"{ACCOUNT}:thing/{thing}"], "document": DOC},
        ("iot", "DescribeJob"): {"jobId": job},
        ("iot", "AssociateTargetsWithJob"): {"jobId": "m-none", "targets": [f"{ACCOUNT}:thinggroup/{group}"]},
        ("iot", "UpdateJob"): {"jobId": job},
        ("iot", "GetJobDocument"): {"jobId": job},
        ("iot", "ListManagedJobTemplates"): {},
        ("iot", "DescribeManagedJobTemplate"): {"templateName": "AWS-Reboot"},
        ("iot", "CreateJobTemplate"): {"jobTemplateId": "m-sweep", "description": "d", "document": DOC},
        ("iot", "DescribeJobTemplate"): {"jobTemplateId": "m-tpl"},
        ("iot", "ListJobTemplates"): {},
        ("iot", "DeleteJobTemplate"): {"jobTemplateId": "m-none"},
        ("iot", "ListJobs"): {},
        ("iot", "CancelJob"): {"jobId": "m-none"},
        ("iot", "DeleteJob"): {"jobId": "m-none"},
        ("iot", "CancelJobExecution"): {"jobId": "m-none", "thingName": thing},
        ("iot", "DescribeJobExecution"): {"jobId": job, "thingName": thing},
        ("iot", "ListJobExecutionsForJob"): {"jobId": job},
        ("iot", "ListJobExecutionsForThing"): {"thingName": thing},
        ("iot", "CreatePackage"): {"packageName": "m-sweep"},
        ("iot", "GetPackage"): {"packageName": "m-none"},
        ("iot", "UpdatePackage"): {"packageName": "m-none"},
        ("iot", "DeletePackage"): {"packageName": "m-none"},
        ("iot", "ListPackages"): {},
        ("iot", "CreatePackageVersion"): {"packageName": "m-none", "versionName": "1"},
        ("iot", "GetPackageVersion"): {"packageName": "m-none", "versionName": "1"},
        ("iot", "UpdatePackageVersion"): {"packageName": "m-none", "versionName": "1"},
        ("iot", "DeletePackageVersion"): {"packageName": "m-none", "versionName": "1"},
        ("iot", "ListPackageVersions"): {"packageName": "m-none"},
        ("iot", "GetPackageConfiguration"): {},
        ("iot", "UpdatePackageConfiguration"): {},
        ("iot-data", "GetThingShadow"): {"thingName": thing},
        ("iot-data", "UpdateThingShadow"): {"thingName": thing, "payload": b'{"state":{}}'},
        ("iot-data", "DeleteThingShadow"): {"thingName": thing, "shadowName": "m-none"},
        ("iot-data", "ListNamedShadowsForThing"): {"thingName": thing},
        ("iot-jobs-data", "GetPendingJobExecutions"): {"thingName": thing},
        ("iot-jobs-data", "StartNextPendingJobExecution"): {"thingName": "m-none"},
        ("iot-jobs-data", "DescribeJobExecution"): {"thingName": thing, "jobId": job},
        ("iot-jobs-data", "UpdateJobExecution"): {"thingName": "m-none", "jobId": job, "status": "IN_PROGRESS"},
    }


POLICY_DOC = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect",
     "Resource": f"{ACCOUNT}:client/${{iot:Connection.Thing.ThingName}}"}]})
POLICY_DOC_2 = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "iot:Publish", "Resource": f"{ACCOUNT}:topic/m/*"}]})


def identity_scenario(h: Harness) -> dict:
    """Certificates, principals, policies and the endpoint. Returns their sweep bases."""
    h.ok("iot", "CreateThing", thingName="m-id")
    made = h.ok("iot", "CreateKeysAndCertificate", setAsActive=True)
    cert_id, cert_arn = made.get("certificateId", ""), made.get("certificateArn", "")
    h.expect("BEGIN" in made.get("keyPair", {}).get("PrivateKey", ""), "CreateKeysAndCertificate: no private key")
    inactive = h.ok("iot", "CreateKeysAndCertificate", setAsActive=False).get("certificateId", "")
    d = h.ok("iot", "DescribeCertificate", certificateId=cert_id).get("certificateDescription", {})
    h.expect(d.get("certificateId") == cert_id and d.get("certificatePem") == made.get("certificatePem"),
             f"DescribeCertificate: {d}", {"DescribeCertificate": "certificateId"})
    h.expect(d.get("status") == "ACTIVE"
             and h.ok("iot", "DescribeCertificate", certificateId=inactive)["certificateDescription"]["status"]
             == "INACTIVE", f"CreateKeysAndCertificate setAsActive not honoured: {d.get('status')}",
             {"CreateKeysAndCertificate": "setAsActive"})
    # A CSR made by openssl, signed by the service's CA; an openssl self-signed certificate registered without a CA.
    import subprocess
    import tempfile

    def openssl(*args: str, stdin: str = "") -> str:
        return subprocess.run(["openssl", *args], input=stdin, check=True, capture_output=True, text=True).stdout
    with tempfile.TemporaryDirectory() as tmp:
        openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=m-csr", "-keyout", f"{tmp}/k",
                "-out", f"{tmp}/csr")
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=m-own", "-days", "1",
                "-keyout", f"{tmp}/k2", "-out", f"{tmp}/own")
        csr, own = open(f"{tmp}/csr").read(), open(f"{tmp}/own").read()
    from_csr = h.ok("iot", "CreateCertificateFromCsr", certificateSigningRequest=csr, setAsActive=True)
    pem = from_csr.get("certificatePem", "")
    signed_key = openssl("x509", "-pubkey", "-noout", stdin=pem) if "BEGIN CERTIFICATE" in pem else "none"
    csr_status = h.ok("iot", "DescribeCertificate", certificateId=from_csr.get("certificateId", ""))
    h.expect(signed_key == openssl("req", "-pubkey", "-noout", stdin=csr)
             and csr_status["certificateDescription"]["status"] == "ACTIVE",
             "CreateCertificateFromCsr: the certificate is not for the CSR's key, or not active",
             {"CreateCertificateFromCsr": "certificateSigningRequest setAsActive"})
    reg = h.ok("iot", "RegisterCertificateWithoutCA", certificatePem=own, status="ACTIVE")
    reg_id = reg.get("certificateId", "")
    rd = h.ok("iot", "DescribeCertificate", certificateId=reg_id).get("certificateDescription", {})
    h.expect(rd.get("certificatePem", "").strip() == own.strip() and rd.get("status") == "ACTIVE",
             f"RegisterCertificateWithoutCA not honoured: {rd.get('status')}",
             {"RegisterCertificateWithoutCA": "certificatePem status"})
    h.error("iot", "RegisterCertificateWithoutCA", "ResourceAlreadyExistsException", certificatePem=own)
    h.error("iot", "CreateCertificateFromCsr", "InvalidRequestException", certificateSigningRequest="not a csr")
    listed = [c["certificateId"] for c in h.ok("iot", "ListCertificates", ascendingOrder=True).get("certificates", [])]
    default = [c["certificateId"] for c in h.ok("iot", "ListCertificates").get("certificates", [])]
    h.expect(listed[:2] == [cert_id, inactive] and default == listed[::-1],
             f"ListCertificates ascendingOrder: {listed} {default}", {"ListCertificates": "ascendingOrder"})
    h.paged("iot", "ListCertificates", "certificates", size="pageSize", cursor=("marker", "nextMarker"))
    h.ok("iot", "UpdateCertificate", certificateId=reg_id, newStatus="REVOKED")
    revoked = h.ok("iot", "DescribeCertificate", certificateId=reg_id)
    h.expect(revoked.get("certificateDescription", {}).get("status") == "REVOKED", "UpdateCertificate newStatus",
             {"UpdateCertificate": "certificateId newStatus"})
    h.error("iot", "UpdateCertificate", "CertificateStateException", certificateId=reg_id,
            newStatus="ACTIVE")
    # Principals: two certificates on m-id, and a certificate on two things, to page through.
    h.ok("iot", "CreateThing", thingName="m-id2")
    inactive_arn = f"{ACCOUNT}:cert/{inactive}"
    h.ok("iot", "AttachThingPrincipal", thingName="m-id", principal=cert_arn)
    h.expect(h.ok("iot", "ListThingPrincipals", thingName="m-id").get("principals") == [cert_arn],
             "ListThingPrincipals", {"AttachThingPrincipal": "thingName principal", "ListThingPrincipals": "thingName"})
    h.ok("iot", "AttachThingPrincipal", thingName="m-id", principal=inactive_arn)
    h.ok("iot", "AttachThingPrincipal", thingName="m-id2", principal=cert_arn)
    h.paged("iot", "ListThingPrincipals", "principals", thingName="m-id")
    things = h.paged("iot", "ListPrincipalThings", "things", principal=cert_arn)
    h.expect(things == ["m-id", "m-id2"], f"ListPrincipalThings {things}", {"ListPrincipalThings": "principal"})
    h.refused_by_name("iot", "AttachThingPrincipal", "thingPrincipalType", "EXCLUSIVE_THING", thingName="m-id",
                      principal=cert_arn)
    # Policies.
    h.ok("iot", "CreatePolicy", policyName="m-pol", policyDocument=POLICY_DOC)
    h.ok("iot", "CreatePolicy", policyName="m-pol2", policyDocument=POLICY_DOC)
    h.error("iot", "CreatePolicy", "ResourceAlreadyExistsException", policyName="m-pol", policyDocument=POLICY_DOC)
    h.error("iot", "CreatePolicy", "MalformedPolicyException", policyName="m-bad", policyDocument="{")
    h.refused_by_name("iot", "CreatePolicy", "tags", [{"Key": "k", "Value": "v"}], policyName="m-tag",
                      policyDocument=POLICY_DOC)
    got = h.ok("iot", "GetPolicy", policyName="m-pol")
    h.expect((got.get("policyName"), got.get("policyDocument")) == ("m-pol", POLICY_DOC), "GetPolicy document",
             {"CreatePolicy": "policyName policyDocument", "GetPolicy": "policyName"})
    # Policy versions: at most 5, the default cannot be deleted.
    v2 = h.ok("iot", "CreatePolicyVersion", policyName="m-pol2", policyDocument=POLICY_DOC_2, setAsDefault=True)
    h.expect(v2.get("policyVersionId") == "2" and v2.get("isDefaultVersion") is True, f"CreatePolicyVersion {v2}")
    one = h.ok("iot", "GetPolicyVersion", policyName="m-pol2", policyVersionId="1")
    two = h.ok("iot", "GetPolicyVersion", policyName="m-pol2", policyVersionId="2")
    h.expect((one.get("policyDocument"), one.get("isDefaultVersion")) == (POLICY_DOC, False)
             and (two.get("policyName"), two.get("policyVersionId"), two.get("policyDocument"))
             == ("m-pol2", "2", POLICY_DOC_2)
             and h.ok("iot", "GetPolicy", policyName="m-pol2").get("defaultVersionId") == "2",
             f"CreatePolicyVersion / GetPolicyVersion: {one} {two}",
             {"CreatePolicyVersion": "policyName policyDocument setAsDefault",
              "GetPolicyVersion": "policyName policyVersionId"})
    listed_versions = h.ok("iot", "ListPolicyVersions", policyName="m-pol2").get("policyVersions", [])
    h.expect([v["versionId"] for v in listed_versions] == ["2", "1"], f"ListPolicyVersions {listed_versions}",
             {"ListPolicyVersions": "policyName"})
    h.ok("iot", "SetDefaultPolicyVersion", policyName="m-pol2", policyVersionId="1")
    h.expect(h.ok("iot", "GetPolicy", policyName="m-pol2").get("defaultVersionId") == "1",
             "SetDefaultPolicyVersion not honoured", {"SetDefaultPolicyVersion": "policyName policyVersionId"})
    h.error("iot", "DeletePolicyVersion", "DeleteConflictException", policyName="m-pol2", policyVersionId="1")
    h.ok("iot", "DeletePolicyVersion", policyName="m-pol2", policyVersionId="2")
    left = [v["versionId"] for v in h.ok("iot", "ListPolicyVersions", policyName="m-pol2").get("policyVersions", [])]
    h.expect(left == ["1"], f"DeletePolicyVersion not honoured: {left}",
             {"DeletePolicyVersion": "policyName policyVersionId"})
    for _ in range(4):
        h.ok("iot", "CreatePolicyVersion", policyName="m-pol", policyDocument=POLICY_DOC)
    h.error("iot", "CreatePolicyVersion", "VersionsLimitExceededException", policyName="m-pol",
            policyDocument=POLICY_DOC)
    h.error("iot", "DeletePolicy", "DeleteConflictException", policyName="m-pol")
    for version in ("2", "3", "4", "5"):
        h.ok("iot", "DeletePolicyVersion", policyName="m-pol", policyVersionId=version)
    names = [p["policyName"] for p in h.ok("iot", "ListPolicies", ascendingOrder=False).get("policies", [])]
    ascending = [p["policyName"] for p in h.ok("iot", "ListPolicies", ascendingOrder=True).get("policies", [])]
    h.expect(names == ["m-pol2", "m-pol"] and ascending == ["m-pol", "m-pol2"],
             f"ListPolicies ascendingOrder: {names} {ascending}", {"ListPolicies": "ascendingOrder"})
    h.paged("iot", "ListPolicies", "policies", size="pageSize", cursor=("marker", "nextMarker"))
    h.ok("iot", "AttachPolicy", policyName="m-pol", target=cert_arn)
    attached = h.ok("iot", "ListAttachedPolicies", target=cert_arn)
    h.expect([p["policyName"] for p in attached.get("policies", [])] == ["m-pol"], f"ListAttachedPolicies {attached}",
             {"AttachPolicy": "policyName target", "ListAttachedPolicies": "target"})
    walked = h.ok("iot", "ListAttachedPolicies", target=cert_arn, recursive=True).get("policies")
    h.expect(walked == attached.get("policies"), f"ListAttachedPolicies recursive on a certificate: {walked}")
    h.ok("iot", "AttachPolicy", policyName="m-pol2", target=cert_arn)
    h.paged("iot", "ListAttachedPolicies", "policies", size="pageSize", cursor=("marker", "nextMarker"),
            target=cert_arn)
    h.ok("iot", "DetachPolicy", policyName="m-pol2", target=cert_arn)
    attached = [p["policyName"] for p in h.ok("iot", "ListAttachedPolicies", target=cert_arn).get("policies", [])]
    h.expect(attached == ["m-pol"], f"DetachPolicy not honoured: {attached}", {"DetachPolicy": "policyName target"})
    h.error("iot", "DeletePolicy", "DeleteConflictException", policyName="m-pol")
    h.error("iot", "DeleteCertificate", "CertificateStateException", certificateId=cert_id)
    h.ok("iot", "UpdateCertificate", certificateId=cert_id, newStatus="INACTIVE")
    h.error("iot", "DeleteCertificate", "DeleteConflictException", certificateId=cert_id)
    for thing_name in ("m-id", "m-id2"):
        h.ok("iot", "DetachThingPrincipal", thingName=thing_name, principal=cert_arn)
    h.expect(h.ok("iot", "ListThingPrincipals", thingName="m-id").get("principals") == [inactive_arn],
             "DetachThingPrincipal not honoured", {"DetachThingPrincipal": "thingName principal"})
    # A certificate with a policy attached goes only with forceDelete.
    h.error("iot", "DeleteCertificate", "DeleteConflictException", certificateId=cert_id)
    h.ok("iot", "DeleteCertificate", certificateId=cert_id, forceDelete=True)
    h.error("iot", "DescribeCertificate", "ResourceNotFoundException",
            {"DeleteCertificate": "certificateId forceDelete"}, certificateId=cert_id)
    h.ok("iot", "DeletePolicy", policyName="m-pol")
    h.error("iot", "GetPolicy", "ResourceNotFoundException", {"DeletePolicy": "policyName"}, policyName="m-pol")
    # A pre-signed URL placeholder needs presignedUrlConfig (the URLs are made at each delivery).
    presigned_doc = json.dumps({"url": "${aws:iot:s3-presigned-url:https://s3.us-east-1.amazonaws.com/b/k}"})
    h.error("iot", "CreateJob", "InvalidRequestException", jobId="m-presigned", targets=[f"{ACCOUNT}:thing/m-id"],
            document=presigned_doc)
    h.ok("iot", "CreateJob", jobId="m-presigned", targets=[f"{ACCOUNT}:thing/m-id"], document=presigned_doc,
         presignedUrlConfig=UNSUPPORTED_JOB_MEMBERS["presignedUrlConfig"])
    shown = h.ok("iot", "DescribeJob", jobId="m-presigned").get("job", {}).get("presignedUrlConfig")
    h.expect(shown == UNSUPPORTED_JOB_MEMBERS["presignedUrlConfig"], f"CreateJob presignedUrlConfig: {shown}",
             {"CreateJob": "presignedUrlConfig"})
    ep = h.ok("iot", "DescribeEndpoint", endpointType="iot:Data-ATS").get("endpointAddress", "")
    h.expect(ep.startswith("127.0.0.1:"), f"DescribeEndpoint: {ep}")
    # Only the endpoints this service has are answered: endpointType is read.
    h.error("iot", "DescribeEndpoint", "InvalidRequestException", {"DescribeEndpoint": "endpointType"},
            endpointType="iot:CredentialProvider")
    none = "0" * 64
    none_arn = f"{ACCOUNT}:cert/{none}"
    return {
        ("iot", "CreateKeysAndCertificate"): {},
        ("iot", "CreateCertificateFromCsr"): {"certificateSigningRequest": csr},
        ("iot", "RegisterCertificateWithoutCA"): {"certificatePem": own},
        ("iot", "DescribeCertificate"): {"certificateId": none},
        ("iot", "ListCertificates"): {},
        ("iot", "UpdateCertificate"): {"certificateId": none, "newStatus": "ACTIVE"},
        ("iot", "DeleteCertificate"): {"certificateId": none},
        ("iot", "AttachThingPrincipal"): {"thingName": "m-id", "principal": none_arn},
        ("iot", "DetachThingPrincipal"): {"thingName": "m-id", "principal": none_arn},
        ("iot", "ListThingPrincipals"): {"thingName": "m-id"},
        ("iot", "ListPrincipalThings"): {"principal": none_arn},
        ("iot", "DescribeEndpoint"): {},
        ("iot", "CreatePolicy"): {"policyName": "m-sweep", "policyDocument": POLICY_DOC},
        ("iot", "GetPolicy"): {"policyName": "m-none"},
        ("iot", "DeletePolicy"): {"policyName": "m-none"},
        ("iot", "ListPolicies"): {},
        ("iot", "AttachPolicy"): {"policyName": "m-none", "target": none_arn},
        ("iot", "DetachPolicy"): {"policyName": "m-none", "target": none_arn},
        ("iot", "ListAttachedPolicies"): {"target": none_arn},
        ("iot", "CreatePolicyVersion"): {"policyName": "m-none", "policyDocument": POLICY_DOC},
        ("iot", "GetPolicyVersion"): {"policyName": "m-pol2", "policyVersionId": "1"},
        ("iot", "ListPolicyVersions"): {"policyName": "m-pol2"},
        ("iot", "SetDefaultPolicyVersion"): {"policyName": "m-none", "policyVersionId": "1"},
        ("iot", "DeletePolicyVersion"): {"policyName": "m-none", "policyVersionId": "1"},
    }


def sweep(h: Harness, bases: dict) -> int:
    """Every input member of every operation: each model-violating value must be refused."""
    cases = 0
    for (service, op), base in bases.items():
        shape = h.clients[service].meta.service_model.operation_model(op).input_shape
        if shape is None:
            continue
        for name, member in shape.members.items():
            if member.serialization.get("location") == "header":
                continue
            for what, bad in h.checkers[service].violations(member):
                if member.serialization.get("location") == "uri" and (not isinstance(bad, str) or bad == ""):
                    continue
                cases += 1
                h.refused(service, op, f"{name} {what} ({bad!r:.40})", **{**base, name: bad})
    return cases


# The list of inputs that were dropped or wrongly accepted: each must now be refused.
def refusals(h: Harness) -> None:
    t = f"{ACCOUNT}:thing/m-t1"
    for member, value in UNSUPPORTED_JOB_MEMBERS.items():
        if member in CREATE_JOB_HONOURS:
            continue
        h.refused_by_name("iot", "CreateJob", member, value, jobId="m-refused", targets=[t], document=DOC)
    h.refused("iot", "CreateJob", "a description with a newline", jobId="m-refused", targets=[t], document=DOC,
              description="two\nlines")
    tags = [{"Key": "k", "Value": "v"}]
    h.refused_by_name("iot", "CreateThing", "billingGroupName", "bg", thingName="m-refused")
    h.refused_by_name("iot", "CreateThingGroup", "tags", tags, thingGroupName="m-refused")
    h.refused_by_name("iot", "CreateDynamicThingGroup", "tags", tags, thingGroupName="m-refused",
                      queryString="thingName:x")
    h.refused_by_name("iot", "CreateThingType", "tags", tags, thingTypeName="m-refused")
    h.refused_by_name("iot", "CreatePackage", "tags", {"t": "1"}, packageName="m-refused")
    h.refused_by_name("iot", "CreatePackageVersion", "tags", {"t": "1"}, packageName="m-p", versionName="m-refused")
    r = h.call("iot", "CreateThingType", thingTypeName="m-refused",
               thingTypeProperties={"mqtt5Configuration": {
                   "propagatingAttributes": [{"connectionAttribute": "iot:ClientId"}]}})
    h.expect(not r["ok"] and "mqtt5Configuration" in r.get("message", ""),
             f"CreateThingType mqtt5Configuration was not refused by name: {r}")
    namespace_ops = [
        ("ListJobs", {}),
        ("DeleteJob", {"jobId": "m-j1"}),
        ("ListJobExecutionsForThing", {"thingName": "m-t1"}),
        ("AssociateTargetsWithJob", {"jobId": "m-j1", "targets": [f"{ACCOUNT}:thinggroup/m-none"]}),
    ]
    for op, params in namespace_ops:
        h.refused_by_name("iot", op, "namespaceId", "ns", **params)
    h.refused("iot", "CreateThingGroup", "parentGroupName of a group that does not exist", thingGroupName="m-child",
              parentGroupName="m-no-parent")
    h.refused("iot", "ListThings", "maxResults past its range", maxResults=251)
    h.refused("iot", "ListThings", "a nextToken never issued", nextToken="-1")
    h.refused("iot", "ListJobs", "an unknown status", status="RUNNING")
    h.refused("iot", "CancelJob", "a lower-case reasonCode", jobId="m-j1", reasonCode="lower")
    h.refused("iot", "CancelJobExecution", "100 statusDetails entries", jobId="m-j1", thingName="m-t1",
              statusDetails={f"k{i}": "v" for i in range(100)})


def judge_member(h: Harness, tally: dict, service: str, op: str, member: str) -> None:
    """An input member must be exactly one of: observed, refused by name, listed in UNOBSERVABLE."""
    key = (service, op, member)
    if member in h.observed.get((service, op), set()):
        tally["observed"].add(key)
    if member in h.refused_names.get((service, op), set()):
        tally["refused by name"].add(key)
    if key in UNOBSERVABLE:
        tally["listed unobservable"].add(key)
    kinds = [kind for kind, members in tally.items() if key in members]
    h.expect(len(kinds) > 0, f"{service}:{op}: input member {member} is never observed in a later read, refused by "
                             "name or listed in UNOBSERVABLE")
    h.expect(len(kinds) < 2, f"{service}:{op}: input member {member} is {' and '.join(kinds)}")


def new_tally() -> dict:
    return {"observed": set(), "refused by name": set(), "listed unobservable": set()}


def self_test(endpoint: str) -> int:
    """One deliberately broken case per kind of check. Each case runs twice: as is, where it must give no finding
    of its kind, and with one response mutated, where it must give a finding of its kind (not just any finding)."""
    def undeclared_member(service, op, r):
        if op == "DescribeThing" and r["status_code"] == 200:
            r["body"] = json.dumps({**json.loads(r["body"]), "surprise": 1}).encode()

    def undeclared_error(service, op, r):
        if op == "DescribeThing" and r["status_code"] == 404:
            r["headers"]["x-amzn-ErrorType"] = "ConflictException"
            r["status_code"] = 409

    def accepted_invalid(service, op, r):
        if op == "ListThings" and r["status_code"] == 400:
            r["status_code"] = 200
            r["body"] = b'{"things":[]}'
            r["headers"].pop("x-amzn-ErrorType", None)

    def wrong_type(service, op, r):
        if op == "DescribeThing" and r["status_code"] == 200:
            r["body"] = json.dumps({**json.loads(r["body"]), "version": "1"}).encode()

    def wrong_status(service, op, r):
        if op == "DescribeThing" and r["status_code"] == 404:
            r["status_code"] = 400

    def dropped_member(service, op, r):
        """The service as if it accepted CreateThing's attributePayload and dropped it."""
        if op == "DescribeThing" and r["status_code"] == 200:
            r["body"] = json.dumps({**json.loads(r["body"]), "attributes": {}}).encode()

    def read_back(h):
        h.ok("iot", "UpdateThing", thingName="m-st", attributePayload={"attributes": {"a": "1"}})
        d = h.ok("iot", "DescribeThing", thingName="m-st")
        h.expect(d.get("attributes") == {"a": "1"}, "UpdateThing attributePayload not honoured",
                 {"UpdateThing": "attributePayload"})
        judge_member(h, new_tally(), "iot", "UpdateThing", "attributePayload")

    describe_thing = lambda h: h.ok("iot", "DescribeThing", thingName="m-st")  # noqa: E731
    describe_missing = lambda h: h.call("iot", "DescribeThing", thingName="m-none")  # noqa: E731
    list_zero = lambda h: h.refused("iot", "ListThings", "maxResults=0", maxResults=0)  # noqa: E731
    cases = [  # (name, mutation, run, what the finding must say)
        ("a member of the wrong type", wrong_type, describe_thing, "DescribeThing.version: expected an integer"),
        ("a declared error with the wrong HTTP status", wrong_status, describe_missing,
         "ResourceNotFoundException came with HTTP 400"),
        ("an undeclared output member", undeclared_member, describe_thing, "DescribeThing.surprise: undeclared member"),
        ("an error code the operation does not declare", undeclared_error, describe_missing,
         "error ConflictException is not declared"),
        ("an input check that lets maxResults=0 through", accepted_invalid, list_zero, "maxResults=0 was accepted"),
        ("a member accepted and dropped", dropped_member, read_back,
         "input member attributePayload is never observed"),
    ]
    failures = 0
    for name, mutate, run, kind in cases:
        found = {}
        for label, mutation in (("as is", None), ("broken", mutate)):
            h = Harness(endpoint, mutation)
            h.call("iot", "CreateThing", thingName="m-st")
            run(h)
            found[label] = [f for f in h.findings if kind in f]
            h.call("iot", "DeleteThing", thingName="m-st")
        caught = bool(found["broken"]) and not found["as is"]
        verdict = "caught" if caught else f"NOT CAUGHT (as is: {found['as is'][:1]})"
        print(f"self-test: {name}: {verdict} {found['broken'][:1]}")
        failures += 0 if caught else 1
    print(f"{len(cases) - failures} passed, {failures} failed")
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--implemented", default="", help="api:Operation,... the router implements")
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    if args.self_test:
        return self_test(args.endpoint)
    h = Harness(args.endpoint)
    bases = scenario(h)
    bases.update(identity_scenario(h))
    refusals(h)
    cases = sweep(h, bases)
    tally = new_tally()
    for op in filter(None, args.implemented.split(",")):
        service, name = op.split(":")
        h.expect(op in h.called, f"{op} is implemented but the scenario never called it")
        h.expect((service, name) in bases, f"{op} is implemented but has no invalid-input sweep")
        shape = h.clients[service].meta.service_model.operation_model(name).input_shape
        for member in (shape.members if shape else {}):
            judge_member(h, tally, service, name, member)
    for key in UNOBSERVABLE:
        h.expect(key in tally["listed unobservable"], f"UNOBSERVABLE lists {key}, which is not an implemented input")
    for f in h.findings:
        print(f"FINDING {f}")
    print(f"model test: {h.checks} responses and checks, {cases} invalid inputs, {len(h.called)} operations; "
          f"input members: " + ", ".join(f"{len(members)} {kind}" for kind, members in tally.items()))
    print(f"{h.checks - len(h.findings)} passed, {len(h.findings)} failed")
    return 1 if h.findings else 0


if __name__ == "__main__":
    sys.exit(main())
