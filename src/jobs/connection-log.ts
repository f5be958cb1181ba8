/**
 * The agent's one log line when its connection drops or cannot be made, saying what is known: the
 * broker's host:port, the reason (with the errno for a socket error), how long a working connection
 * lasted. A broker that simply closes a working connection (MQTT 3.1.1 servers send no DISCONNECT)
 * most often does so because another client connected with the same client id — the thing name: a
 * second agent, the Device Client left running, or `doctor`, which connects as the thing. Two of
 * them knock each other off in a loop, so that hint is in the line. A CONNECT refused as not
 * authorized names what AWS IoT checks, in the order people get it wrong.
 */
import type { ConnectionStatus } from "../mqtt/connection.ts";

export interface StatusLine {
  readonly msg: string;
  readonly fields: Record<string, string | number>;
}

export function connectionStatusLog(status: ConnectionStatus, clientId: string): StatusLine {
  if (status.event === "error") {
    const fields: Record<string, string | number> = { broker: status.broker, detail: status.detail };
    if (status.detail.includes("not authorized"))
      fields.hint =
        `the certificate must be ACTIVE and attached to thing ${clientId}, and a policy attached to it must allow ` +
        `iot:Connect for client id ${clientId} (the thing name); \`iot-jobs-agent doctor\` checks each`;
    return { msg: "Connection error", fields };
  }
  const fields: Record<string, string | number> = {
    broker: status.broker,
    reason: status.reason ?? "the broker closed the connection",
    connectedSeconds: Math.floor(status.connectedMs / 1000),
  };
  if (status.reason === undefined)
    fields.hint =
      `another client with the same client id (${clientId}) may have connected: a second agent, the AWS IoT ` +
      "Device Client, or `iot-jobs-agent doctor`; otherwise a broker restart, or an action the IoT policy does not allow";
  return { msg: "Disconnected; reconnecting", fields };
}
