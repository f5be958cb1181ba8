// AWS's device SDK (aws-iot-device-sdk-v2) connecting as production devices do: mutual TLS with a
// certificate, key and root CA from files (AwsIotMqttConnectionConfigBuilder's mTLS builder).
// Usage: node mtls-sdk-v2.mjs HOST PORT CLIENT_ID CERT KEY ROOT_CA — prints one JSON line:
// {"connected": true, "granted": [...], "startNext": "accepted"} or {"connected": false, "error": "..."}.
import { iot, mqtt } from "aws-iot-device-sdk-v2";

const [host, port, clientId, cert, key, rootCa] = process.argv.slice(2);
setTimeout(() => {
  console.log(JSON.stringify({ connected: false, error: "timed out" }));
  process.exit(0);
}, 20_000).unref();

const config = iot.AwsIotMqttConnectionConfigBuilder.new_mtls_builder_from_path(cert, key)
  .with_certificate_authority_from_path(undefined, rootCa)
  .with_endpoint(host)
  .with_port(Number(port))
  .with_client_id(clientId)
  .with_clean_session(true)
  .build();
const connection = new mqtt.MqttClient().new_connection(config);
try {
  await connection.connect();
} catch (error) {
  console.log(JSON.stringify({ connected: false, error: String(error?.message ?? error) }));
  process.exit(0);
}
const prefix = `$aws/things/${clientId}/jobs`;
const granted = [];
for (const topic of [`${prefix}/start-next/accepted`, `$aws/things/${clientId}/shadow/get/accepted`]) {
  try {
    const r = await connection.subscribe(topic, mqtt.QoS.AtLeastOnce);
    granted.push(r.qos);
  } catch {
    granted.push(128);
  }
}
const reply = new Promise((resolve) => {
  connection.on("message", (topic) => topic.endsWith("/start-next/accepted") && resolve("accepted"));
});
await connection.publish(`${prefix}/start-next`, "{}", mqtt.QoS.AtLeastOnce);
const startNext = await Promise.race([reply, new Promise((r) => setTimeout(() => r("no reply"), 5_000))]);
console.log(JSON.stringify({ connected: true, granted, startNext }));
await connection.disconnect();
process.exit(0);
