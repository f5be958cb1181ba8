"""
A botocore iot-jobs-data client for the Jobs contract suite's HTTP transport (the AWS SDK v3
client for iot-jobs-data is not a dependency of this project; botocore is AWS's own SDK core).

One JSON request a line on stdin: {"id", "operation", "params"}; one JSON answer a line on stdout:
{"id", "ok": true, "status", "response"} with what botocore parsed (ResponseMetadata dropped), or
{"id", "ok": false, "status", "code", "message", "body"} with botocore's error code and message and
the raw error body (AWS puts members there that botocore's parsed error does not carry, such as
executionState on InvalidStateTransitionException). Client-side parameter validation is off: the
suite sends wrong types on purpose, and it is the service that must refuse them.
"""

import json
import sys

import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError


def main() -> None:
    endpoint = sys.argv[1]
    client = botocore.session.get_session().create_client(
        "iot-jobs-data",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(parameter_validation=False, retries={"max_attempts": 1, "mode": "standard"}),
    )
    raw_body = {}

    def keep_raw(http_response, **_):
        raw_body["text"] = http_response.content.decode("utf-8", "replace")

    client.meta.events.register("after-call.iot-jobs-data", keep_raw)

    for line in sys.stdin:
        request = json.loads(line)
        answer = {"id": request["id"]}
        raw_body.clear()
        try:
            response = getattr(client, snake(request["operation"]))(**request["params"])
            status = response.pop("ResponseMetadata")["HTTPStatusCode"]
            answer.update(ok=True, status=status, response=response)
        except ClientError as e:
            try:
                body = json.loads(raw_body.get("text", ""))
            except ValueError:
                body = raw_body.get("text")
            answer.update(
                ok=False,
                status=e.response["ResponseMetadata"]["HTTPStatusCode"],
                code=e.response["Error"]["Code"],
                message=e.response["Error"]["Message"],
                body=body,
            )
        except Exception as e:  # noqa: BLE001 - reported to the test, which fails with it
            answer.update(ok=False, status=0, code=type(e).__name__, message=str(e), body=None)
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


def snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")


if __name__ == "__main__":
    main()
