/**
 * The AWS IoT Device Client's features other than Jobs, as its command line and config file name
 * them. A Device Client installation switched to this agent keeps its flags and its config file:
 * every flag is accepted, and a feature that is switched on gets ONE warning at start naming what
 * is not provided and what to use instead — never a silent drop, never exit 2 from a start script.
 * The one hard stop: a secure element (PKCS#11) key with no key file, where connecting with
 * another identity would be wrong.
 */

export interface ForeignFeature {
  /** What operators call it, for the warning. */
  readonly name: string;
  /** Where to turn instead. */
  readonly instead: string;
  /** The flag that switches it on (`true` enables, as in the Device Client). */
  readonly enableFlag?: string;
  /** The config file path of its `enabled` key (or of what `enabledInFile` reads). */
  readonly configPath?: readonly string[];
  /** Whether the value at configPath switches it on, when that is not a plain `enabled` key. */
  readonly enabledInFile?: (value: unknown) => boolean;
  /** How the warning names the config file's switch, when not `configPath` itself. */
  readonly configLabel?: string;
  /** The enable flag switches the feature on by being given at all (a file path), not by `true`. */
  readonly enabledByPresence?: boolean;
  /** Its other flags: [flag, takes a value]. */
  readonly flags: readonly (readonly [string, boolean])[];
}

export const FOREIGN_FEATURES: readonly ForeignFeature[] = [
  {
    name: "Secure tunneling",
    instead: "run the AWS IoT Device Client with only tunneling enabled, or AWS's localproxy",
    enableFlag: "--enable-tunneling",
    configPath: ["tunneling", "enabled"],
    flags: [
      ["--tunneling-region", true],
      ["--tunneling-service", true],
      ["--tunneling-disable-notification", false],
    ],
  },
  {
    name: "Device Defender",
    instead: "run the AWS IoT Device Client with only Device Defender enabled",
    enableFlag: "--enable-device-defender",
    configPath: ["device-defender", "enabled"],
    flags: [["--device-defender-interval", true]],
  },
  {
    name: "Fleet provisioning",
    instead:
      "provision once with the AWS IoT Device Client, then start this agent: it connects with the identity " +
      "the Device Client saved in ~/.aws-iot-device-client/aws-iot-device-client-runtime.conf",
    enableFlag: "--enable-fleet-provisioning",
    configPath: ["fleet-provisioning", "enabled"],
    flags: [
      ["--fleet-provisioning-template-name", true],
      ["--fleet-provisioning-template-parameters", true],
      ["--csr-file", true],
      ["--device-key", true],
      ["--collect-system-information", true],
    ],
  },
  {
    name: "The pub-sub sample",
    instead: "mosquitto_pub/mosquitto_sub with the device's certificate",
    enableFlag: "--enable-pub-sub",
    configPath: ["samples", "pub-sub", "enabled"],
    flags: [
      ["--publish-topic", true],
      ["--publish-file", true],
      ["--subscribe-topic", true],
      ["--subscribe-file", true],
    ],
  },
  {
    name: "The sample shadow",
    instead: "the shadow MQTT topics from a script, or the AWS IoT Device Client",
    enableFlag: "--enable-sample-shadow",
    configPath: ["sample-shadow", "enabled"],
    flags: [
      ["--shadow-name", true],
      ["--shadow-input-file", true],
      ["--shadow-output-file", true],
    ],
  },
  {
    name: "Config shadow",
    instead: "keep the device's configuration in its config file (or run the AWS IoT Device Client for it)",
    enableFlag: "--enable-config-shadow",
    configPath: ["config-shadow", "enabled"],
    flags: [],
  },
  {
    name: "Sensor publish",
    instead: "the AWS IoT Device Client with only sensor publish enabled",
    // The Device Client's section has no `enabled` of its own: the feature runs when any entry of
    // `sensors` is enabled, and an entry is unless it says `"enabled": false`.
    configPath: ["sensor-publish", "sensors"],
    enabledInFile: (sensors) =>
      Array.isArray(sensors) &&
      sensors.some((s) => typeof s === "object" && s !== null && !isFalse((s as Record<string, unknown>).enabled)),
    configLabel: "an enabled entry of sensor-publish.sensors",
    flags: [],
  },
  {
    name: "Secure element (PKCS#11)",
    instead: "a private key file (PEM) given with --key",
    enableFlag: "--enable-secure-element",
    configPath: ["secure-element", "enabled"],
    flags: [
      ["--pkcs11-lib", true],
      ["--secure-element-pin", true],
      ["--secure-element-key-label", true],
      ["--secure-element-slot-id", true],
      ["--secure-element-token-label", true],
    ],
  },
];

/** Every foreign flag with whether it takes a value (the command-line parser accepts them all). */
export const FOREIGN_FLAGS: ReadonlyMap<string, boolean> = new Map(
  FOREIGN_FEATURES.flatMap((f) => [...(f.enableFlag ? [[f.enableFlag, true] as const] : []), ...f.flags]),
);

const enabledValue = (value: unknown) => value === true || value === "true";
const isFalse = (value: unknown) => value === false || value === "false";

function at(config: unknown, path: readonly string[]): unknown {
  let node = config;
  for (const key of path) {
    if (typeof node !== "object" || node === null || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

export type FeatureCheck = { ok: true; warnings: string[] } | { ok: false; message: string };

/**
 * Which foreign features the flags and the config file switch on: one warning each (a flag
 * decides over the file, as for every key); a fatal message for a PKCS#11 key without a key file.
 */
export function checkForeignFeatures(
  flags: Readonly<Record<string, string | true | undefined>>,
  configFile: unknown,
  keyFile: string | undefined,
): FeatureCheck {
  const warnings: string[] = [];
  for (const feature of FOREIGN_FEATURES) {
    const flagged = feature.enableFlag ? flags[feature.enableFlag] : undefined;
    const fromFile = feature.configPath ? at(configFile, feature.configPath) : undefined;
    const enabledInFile = feature.enabledInFile ?? enabledValue;
    const enabled =
      flagged !== undefined ? feature.enabledByPresence === true || enabledValue(flagged) : enabledInFile(fromFile);
    const where =
      flagged !== undefined
        ? `${feature.enableFlag} ${flagged}`
        : `${feature.configLabel ?? feature.configPath?.join(".")} in the config file`;
    if (!enabled) continue;
    if (feature.enableFlag === "--enable-secure-element" && !keyFile)
      return {
        ok: false,
        message: `PKCS#11 keys are not supported (secure element enabled by ${where}); export the key to a PEM file and give --key, or keep the AWS IoT Device Client on this device`,
      };
    warnings.push(
      `${feature.name} is not provided by iot-jobs-agent (enabled by ${where}); it stays off. Instead: ${feature.instead}`,
    );
  }
  return { ok: true, warnings };
}
