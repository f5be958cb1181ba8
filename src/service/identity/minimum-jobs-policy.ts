/**
 * The AWS IoT Device Client's documented minimum Jobs policy (the seed's last section), its
 * placeholders filled in and its Connect ARN with the `iot` segment: what a device running the agent
 * needs and nothing more. The demo attaches it; the tests hold the evaluator to it.
 */
export function jobsMinimumPolicy(region: string, account: string): string {
  const arn = (rest: string) => `arn:aws:iot:${region}:${account}:${rest}`;
  const thing = "$aws/things/${iot:Connection.Thing.ThingName}/jobs";
  const replies = [
    "start-next/accepted",
    "start-next/rejected",
    "*/update/accepted",
    "*/update/rejected",
    "notify-next",
  ];
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      { Effect: "Allow", Action: "iot:Connect", Resource: arn("client/${iot:Connection.Thing.ThingName}") },
      {
        Effect: "Allow",
        Action: "iot:Publish",
        Resource: [arn(`topic/${thing}/start-next`), arn(`topic/${thing}/*/update`)],
      },
      { Effect: "Allow", Action: "iot:Subscribe", Resource: replies.map((r) => arn(`topicfilter/${thing}/${r}`)) },
      { Effect: "Allow", Action: "iot:Receive", Resource: replies.map((r) => arn(`topic/${thing}/${r}`)) },
    ],
  });
}
