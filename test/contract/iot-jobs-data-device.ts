/**
 * The Jobs contract suite's HTTP transport: a device that makes the suite's requests through
 * iot-jobs-data (GetPendingJobExecutions, StartNextPendingJobExecution, DescribeJobExecution,
 * UpdateJobExecution) with botocore, AWS's SDK core, against an endpoint override. The suite speaks
 * in MQTT request topics and bodies; this file is the one place that says what each becomes over
 * HTTP, and what an MQTT rejection code becomes among the errors botocore's model declares.
 */
import { join } from "node:path";
import type { RejectedErrorCode } from "../../src/protocol/messages.ts";
import type { DeviceApi, Reply } from "./jobs-contract.ts";

const HELPER = join(import.meta.dir, "iot_jobs_data_client.py");

/** Whether python3 with botocore (and so its iot-jobs-data model) is installed. */
export function hasBotocore(): boolean {
  const probe = "import botocore.session; botocore.session.get_session().get_service_model('iot-jobs-data')";
  try {
    return Bun.spawnSync(["python3", "-c", probe], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
  } catch {
    return false;
  }
}

/**
 * The error each rejection code is over HTTP: the model's type and status for it. VersionMismatch
 * has no error of its own: UpdateJobExecution declares InvalidStateTransitionException (409, "the
 * body of the error message also contains the executionState field") and no ConflictException.
 */
const HTTP_ERRORS: Partial<Record<RejectedErrorCode, { code: string; status: number }>> = {
  InvalidRequest: { code: "InvalidRequestException", status: 400 },
  ResourceNotFound: { code: "ResourceNotFoundException", status: 404 },
  InvalidStateTransition: { code: "InvalidStateTransitionException", status: 409 },
  VersionMismatch: { code: "InvalidStateTransitionException", status: 409 },
};

export function httpRejection(code: RejectedErrorCode): { code: string; status: number } {
  const mapped = HTTP_ERRORS[code];
  if (!mapped) throw new Error(`no iot-jobs-data error stands for the rejection code ${code}`);
  return mapped;
}

type Answer =
  | { id: number; ok: true; status: number; response: Record<string, any> }
  | { id: number; ok: false; status: number; code: string; message: string; body: any };

/** One botocore client in a python3 process, asked one JSON line at a time. */
export class JobsDataClient {
  private next = 0;
  private readonly waiting = new Map<number, (a: Answer) => void>();
  /** Resolves (never rejects) when the helper is gone, with what it said on stderr. */
  private readonly gone: Promise<Error>;

  private constructor(private readonly proc: Bun.Subprocess<"pipe", "pipe", "pipe">) {
    const stderr = new Response(proc.stderr).text();
    this.gone = proc.exited.then(
      async (status) => new Error(`the botocore helper exited (${status}): ${await stderr}`),
    );
    void this.read();
  }

  static start(endpoint: string): JobsDataClient {
    return new JobsDataClient(
      Bun.spawn(["python3", HELPER, endpoint], { stdin: "pipe", stdout: "pipe", stderr: "pipe" }),
    );
  }

  private async read(): Promise<void> {
    let buffered = "";
    const decoder = new TextDecoder();
    for await (const chunk of this.proc.stdout) {
      buffered += decoder.decode(chunk, { stream: true });
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        const answer = JSON.parse(buffered.slice(0, nl)) as Answer;
        buffered = buffered.slice(nl + 1);
        this.waiting.get(answer.id)?.(answer);
        this.waiting.delete(answer.id);
      }
    }
  }

  async call(operation: string, params: Record<string, unknown>): Promise<Answer> {
    const id = ++this.next;
    const answered = new Promise<Answer>((resolve) => this.waiting.set(id, resolve));
    this.proc.stdin.write(`${JSON.stringify({ id, operation, params })}\n`);
    this.proc.stdin.flush();
    const answer = await Promise.race([answered, this.gone]);
    if (answer instanceof Error) throw answer;
    return answer;
  }

  async stop(): Promise<void> {
    this.proc.stdin.end();
    await this.proc.exited;
  }
}

/** The suite's requests as iot-jobs-data calls: `jobs/get`, `jobs/start-next`, `jobs/<id>/get|update`. */
function operationOf(suffix: string): { operation: string; jobId?: string } {
  if (suffix === "jobs/get") return { operation: "GetPendingJobExecutions" };
  if (suffix === "jobs/start-next") return { operation: "StartNextPendingJobExecution" };
  const m = /^jobs\/([^/]+)\/(get|update)$/.exec(suffix);
  if (!m) throw new Error(`${suffix} is a topic, not an iot-jobs-data operation: an MQTT-only case`);
  return { operation: m[2] === "get" ? "DescribeJobExecution" : "UpdateJobExecution", jobId: m[1] };
}

/** The document is a JSON string in the model (an object on MQTT): parsed back, after checking it is one. */
function parsedDocument(document: unknown): unknown {
  if (typeof document !== "string") throw new Error(`jobDocument is not a JSON string: ${JSON.stringify(document)}`);
  return JSON.parse(document);
}

/** A device that reaches the Jobs device API over HTTP. */
export class HttpDevice implements DeviceApi {
  constructor(
    readonly thing: string,
    private readonly client: JobsDataClient,
  ) {}

  /**
   * iot-jobs-data has no clientToken: it is not sent, and no reply echoes it. A body that is not an
   * object cannot be an SDK call's parameters: the cases that send one are MQTT-only.
   */
  async request(suffix: string, body: unknown = {}): Promise<Reply> {
    if (body === null || typeof body !== "object" || Array.isArray(body))
      throw new Error(`${JSON.stringify(body)} is not an SDK call's parameters: an MQTT-only case`);
    const { clientToken: _, ...members } = body as Record<string, unknown>;
    const { operation, jobId } = operationOf(suffix);
    const answer = await this.client.call(operation, {
      thingName: this.thing,
      ...(jobId === undefined ? {} : { jobId }),
      ...members,
    });
    if (!answer.ok && answer.status === 0)
      throw new Error(
        `botocore cannot send ${operation} ${JSON.stringify(members)}: ${answer.code}: ${answer.message}`,
      );
    if (!answer.ok) {
      const raw = answer.body !== null && typeof answer.body === "object" ? answer.body : {};
      return {
        outcome: "rejected",
        payload: { ...raw, code: answer.code, status: answer.status, message: answer.message },
      };
    }
    const payload = answer.response;
    if (payload.execution?.jobDocument !== undefined)
      payload.execution.jobDocument = parsedDocument(payload.execution.jobDocument);
    if (payload.jobDocument !== undefined) payload.jobDocument = parsedDocument(payload.jobDocument);
    return { outcome: answer.status === 200 ? "accepted" : "rejected", payload };
  }

  async close(): Promise<void> {}
}
