/**
 * What the agent logs when its connection fails or drops (src/jobs/connection-log.ts): one line
 * each, with what is known — the broker's host:port, the errno, why a working connection ended and,
 * when the broker closed it, the usual cause (a second client with the same client id).
 */
import { describe, expect, test } from "bun:test";
import { connectionStatusLog } from "../../src/jobs/connection-log.ts";

describe("connection status log lines", () => {
  test("the broker closed a working connection: the reason, how long it lasted, the client-id takeover hint", () => {
    const line = connectionStatusLog(
      { event: "offline", reason: undefined, connectedMs: 125_400, broker: "broker.example:8883" },
      "pi-7",
    );
    expect(line.msg).toBe("Disconnected; reconnecting");
    expect(line.fields).toEqual({
      broker: "broker.example:8883",
      reason: "the broker closed the connection",
      connectedSeconds: 125,
      hint:
        "another client with the same client id (pi-7) may have connected: a second agent, the AWS IoT Device " +
        "Client, or `iot-jobs-agent doctor`; otherwise a broker restart, or an action the IoT policy does not allow",
    });
  });

  test("a working connection ended for a known reason: that reason, no takeover hint", () => {
    const line = connectionStatusLog(
      {
        event: "offline",
        reason: "no answer to PINGREQ within the keepalive period",
        connectedMs: 3_000,
        broker: "127.0.0.1:1883",
      },
      "pi-7",
    );
    expect(line).toEqual({
      msg: "Disconnected; reconnecting",
      fields: {
        broker: "127.0.0.1:1883",
        reason: "no answer to PINGREQ within the keepalive period",
        connectedSeconds: 3,
      },
    });
  });

  test("no connection could be made: the broker's host:port and the detail (errno included)", () => {
    expect(
      connectionStatusLog(
        { event: "error", detail: "Failed to connect (ECONNREFUSED)", broker: "127.0.0.1:1" },
        "pi-7",
      ),
    ).toEqual({
      msg: "Connection error",
      fields: { broker: "127.0.0.1:1", detail: "Failed to connect (ECONNREFUSED)" },
    });
  });
});

test("a CONNECT refused as not authorized: what to check, naming the thing", () => {
  const line = connectionStatusLog(
    {
      event: "error",
      detail: "connection refused: not authorized",
      broker: "abc-ats.iot.eu-west-1.amazonaws.com:8883",
    },
    "pi-7",
  );
  expect(line.msg).toBe("Connection error");
  expect(line.fields.detail).toBe("connection refused: not authorized");
  expect(String(line.fields.hint)).toContain("ACTIVE and attached to thing pi-7");
  expect(String(line.fields.hint)).toContain("iot:Connect for client id pi-7");
});
