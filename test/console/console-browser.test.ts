/**
 * The console in a real browser: Debian's chromium driven by playwright-core, against the compiled
 * iot-jobs-local (so the embedded assets are what is tested) and the compiled agent. Creates a
 * package version and jobs through the console's forms, watches one reach SUCCEEDED without a
 * reload, cancels another, reads a failed execution's stderr, checks labels and keyboard use, and
 * saves a screenshot of each page (dist/console-screenshots/, or IOT_JOBS_CONSOLE_SHOTS).
 * Skips with a message without chromium.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  CreateThingCommand,
  CreateDynamicThingGroupCommand,
  CreateThingGroupCommand,
  AddThingToThingGroupCommand,
  GetPackageVersionCommand,
} from "@aws-sdk/client-iot";
import type { Browser, Page } from "playwright-core";
import { AgentProcess } from "../helpers/agent-process.ts";
import { compiledAgent, compiledService, spawnService } from "../helpers/executables.ts";
import { iotClient } from "../helpers/local-service.ts";
import { projectHandlerDir, REPO_ROOT } from "../helpers/temp.ts";

const CHROMIUM = "/usr/bin/chromium";
/** Screenshots of every page go to dist/ (ignored by git); IOT_JOBS_CONSOLE_SHOTS=docs/console refreshes the docs' ones. */
const SHOTS = process.env.IOT_JOBS_CONSOLE_SHOTS ?? join(REPO_ROOT, "dist", "console-screenshots");
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium)
  console.warn(`SKIPPED: the console browser tests need Debian's chromium at ${CHROMIUM} (apt-get install chromium)`);

let svc: Awaited<ReturnType<typeof spawnService>>;
let agent: AgentProcess;
let browser: Browser;
let page: Page;

/** The little of the DOM the page functions below use (the tests are typed without lib.dom). */
type Browserish = { document: { activeElement: { id: string; textContent: string | null } | null } };

/** A fresh load of a console view (a hash-only change of the same URL would keep the old page). */
const open = async (view: string) => {
  await page.goto("about:blank");
  await page.goto(`${svc.http}/console${view}`);
};

const shot = (name: string, fullPage = false) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });

describe.skipIf(!haveChromium)("console in chromium", () => {
  beforeAll(async () => {
    svc = await spawnService([compiledService()]);
    const iot = iotClient(svc.http);
    await iot.send(
      new CreateThingCommand({ thingName: "console-pi", attributePayload: { attributes: { site: "lab" } } }),
    );
    await iot.send(new CreateThingCommand({ thingName: "console-offline" }));
    await iot.send(new CreateThingGroupCommand({ thingGroupName: "lab" }));
    await iot.send(new AddThingToThingGroupCommand({ thingGroupName: "lab", thingName: "console-pi" }));
    await iot.send(
      new CreateDynamicThingGroupCommand({ thingGroupName: "lab-site", queryString: "attributes.site:lab" }),
    );
    agent = AgentProcess.start({
      brokerUrl: svc.mqtt,
      thingName: "console-pi",
      handlerDirectory: projectHandlerDir(),
      command: [compiledAgent("linux-x64")],
    });
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on("dialog", (d) => void d.accept());
    mkdirSync(SHOTS, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    agent?.kill();
    await svc?.stop();
  });

  test("the compiled executable serves the embedded assets, byte for byte", async () => {
    const dir = join(REPO_ROOT, "src/service/console");
    for (const [path, file] of [
      ["/console", "index.html"],
      ["/console/app.js", "console-app.js"],
      ["/console/app.css", "app.css"],
    ]) {
      const res = await fetch(`${svc.http}${path}`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(readFileSync(join(dir, file!), "utf8"));
    }
    const uplot = await fetch(`${svc.http}/console/uplot.js`);
    expect(await uplot.text()).toBe(readFileSync(join(REPO_ROOT, "node_modules/uplot/dist/uPlot.iife.min.js"), "utf8"));
  });

  test("packages: create a package and versions, publish, deprecate, make one the default", async () => {
    await open("#/packages");
    await page.getByLabel("Package name").fill("agent-app");
    await page.getByLabel("Description (optional)").first().fill("The app the lab runs");
    await page.getByRole("button", { name: "Create package" }).click();
    await page.getByRole("heading", { name: "agent-app" }).waitFor();
    await page.getByLabel("Version name").fill("1.2.0");
    await page.getByLabel("Attributes (optional)").fill("channel=stable");
    await page.getByLabel("Artifact (optional)").fill("s3://lab-artifacts/agent-app/1.2.0.tar.gz");
    await page.getByRole("button", { name: "Create version" }).click();
    // The artifact must be in the service's S3: the API's refusal shows as it is; uploaded, it passes.
    await page.getByRole("alert").filter({ hasText: "does not exist" }).waitFor();
    const s3 = (path: string, body?: string) =>
      Bun.spawnSync([
        "curl",
        "-sf",
        "-X",
        "PUT",
        "--aws-sigv4",
        "aws:amz:us-east-1:s3",
        "--user",
        "local:local",
        "-H",
        "content-type: application/octet-stream",
        ...(body ? ["--data-binary", body] : []),
        `${svc.http}${path}`,
      ]).exitCode;
    expect(s3("/lab-artifacts")).toBe(0);
    expect(s3("/lab-artifacts/agent-app/1.2.0.tar.gz", "not really a tarball")).toBe(0);
    await page.getByRole("button", { name: "Create version" }).click();
    await page.getByText("s3://lab-artifacts/agent-app/1.2.0.tar.gz").waitFor();
    await page.getByRole("button", { name: "Publish 1.2.0" }).click();
    await page.getByRole("button", { name: "Deprecate 1.2.0" }).waitFor();
    await page.getByRole("button", { name: "Make default" }).click();
    await page.getByText("Default version: 1.2.0").waitFor();
    await page.getByLabel(/Record the versions a SUCCEEDED job installs/).check();
    await page.getByText("Package configuration saved.").waitFor();
    const v = await iotClient(svc.http).send(
      new GetPackageVersionCommand({ packageName: "agent-app", versionName: "1.2.0" }),
    );
    expect([v.status, v.attributes, v.artifact?.s3Location]).toEqual([
      "PUBLISHED",
      { channel: "stable" },
      { bucket: "lab-artifacts", key: "agent-app/1.2.0.tar.gz" },
    ]);
    // An older version, published then deprecated: the row's status changes, and the catalog's.
    await page.getByLabel("Version name").fill("1.1.0");
    await page.getByLabel("Attributes (optional)").fill("");
    await page.getByLabel("Artifact (optional)").fill("");
    await page.getByRole("button", { name: "Create version" }).click();
    await page.getByRole("button", { name: "Publish 1.1.0" }).click();
    const row = page.locator("tr", { has: page.getByRole("button", { name: "Deprecate 1.1.0" }) });
    await row.locator(".status.s-PUBLISHED").waitFor();
    await page.getByRole("button", { name: "Deprecate 1.1.0" }).click();
    await page.getByText("1.1.0 deprecated.").waitFor();
    await page.locator("tr", { hasText: "1.1.0" }).locator(".status.s-DEPRECATED").waitFor();
    await expect(page.getByRole("button", { name: "Deprecate 1.1.0" }).count()).resolves.toBe(0);
    await expect(page.getByRole("button", { name: "Deprecate 1.2.0" }).count()).resolves.toBe(1);
    const old = await iotClient(svc.http).send(
      new GetPackageVersionCommand({ packageName: "agent-app", versionName: "1.1.0" }),
    );
    expect(old.status).toBe("DEPRECATED");
    await shot("packages", true);
  }, 30_000);

  test("create a job from a document; it reaches SUCCEEDED on the compiled agent, live", async () => {
    await open("#/create");
    await page.getByLabel("Job ID").fill("console-doc");
    const doc = {
      version: "1.0",
      includeStdOut: true,
      steps: [
        {
          action: {
            name: "greet",
            type: "runCommand",
            input: { command: "printf,hello from the console (${aws:iot:package::version::attributes:channel})" },
          },
        },
      ],
    };
    await page.getByLabel("Job document (JSON)").fill(JSON.stringify(doc, null, 2));
    await page.getByLabel(/^Things/).selectOption({ label: "console-pi" });
    await page
      .getByLabel("Destination package versions")
      .fill("arn:aws:iot:us-east-1:123456789012:package/agent-app/version/$default");
    await page.getByLabel(/^Roll-out rate/).fill("5");
    await shot("create-job");
    await page.getByRole("button", { name: "Create job" }).click();
    await page.waitForURL(/#\/jobs\/console-doc$/);
    // No reload from here on: the page follows /console/events.
    await page.locator("td .status.s-SUCCEEDED").waitFor({ timeout: 30_000 });
    await page.getByText("hello from the console (stable)", { exact: true }).waitFor(); // statusDetails.stdout
    const before = page.getByLabel("Document before substitution");
    await expect(before.textContent()).resolves.toContain("${aws:iot:package::version::attributes:channel}");
    await expect(page.getByLabel("Document as delivered").textContent()).resolves.toContain("(stable)");
    await expect(page.getByLabel("Job configuration").textContent()).resolves.toContain(
      "package/agent-app/version/1.2.0",
    );
    await expect(page.getByLabel("Job configuration").textContent()).resolves.toContain('"maximumPerMinute": 5');
    await page.waitForTimeout(600); // the next coalesced event redraws the chart
    await shot("job");
    await open("#/things");
    await page.getByText("agent-app 1.2.0").waitFor({ timeout: 10_000 }); // $package reported by SUCCEEDED
    await page.getByText("● connected").waitFor();
    await page.locator(".tag.dyn", { hasText: "lab-site" }).waitFor(); // the dynamic group it matches
    await page.getByText("attributes.site:lab").waitFor();
    await shot("things");
  }, 60_000);

  test("a failed execution's stderr is on the job page, filtered by status", async () => {
    await open("#/create");
    await page.getByLabel("Job ID").fill("console-fail");
    const doc = {
      version: "1.0",
      steps: [
        { action: { name: "boom", type: "runCommand", input: { command: "sh,-c,echo disk is full >&2; exit 3" } } },
      ],
    };
    await page.getByLabel("Job document (JSON)").fill(JSON.stringify(doc));
    await page.getByLabel("Thing groups").selectOption({ index: 0 });
    await page.getByRole("button", { name: "Create job" }).click();
    await page.waitForURL(/#\/jobs\/console-fail$/);
    await page.getByLabel("Status", { exact: true }).selectOption("FAILED");
    await page.locator("td pre", { hasText: "disk is full" }).waitFor({ timeout: 30_000 }); // statusDetails.stderr
    await expect(page.locator("table[aria-label=Executions] tbody tr").count()).resolves.toBe(1);
    await page.locator("table[aria-label=Executions]").scrollIntoViewIfNeeded();
    await shot("job-failed");
  }, 45_000);

  test("cancel a job, and the API's errors show as they are", async () => {
    await open("#/create");
    await page.getByLabel("Job ID").fill("console-cancel");
    await page.getByLabel(/^Things/).selectOption({ label: "console-offline" });
    await page.getByRole("button", { name: "Create job" }).click();
    await page.waitForURL(/#\/jobs\/console-cancel$/);
    await page.getByRole("button", { name: "Cancel", exact: true }).click();
    await page.getByText("Job canceled.").waitFor();
    await page.locator("td .status.s-CANCELED").waitFor({ timeout: 10_000 });
    // The same job id again: the API's ResourceAlreadyExistsException, word for word.
    await open("#/create");
    await page.getByLabel("Job ID").fill("console-cancel");
    await page.getByLabel(/^Things/).selectOption({ label: "console-offline" });
    await page.getByRole("button", { name: "Create job" }).click();
    await page.getByRole("alert").filter({ hasText: "ResourceAlreadyExistsException" }).waitFor();
    await open("#/jobs");
    await page.getByRole("link", { name: "console-cancel" }).waitFor();
  }, 30_000);

  test("cancel with force stops a running step on the compiled agent", async () => {
    await open("#/create");
    await page.getByLabel("Job ID").fill("console-force");
    const doc = {
      version: "1.0",
      steps: [{ action: { name: "wait", type: "runCommand", input: { command: "sleep,60" } } }],
    };
    await page.getByLabel("Job document (JSON)").fill(JSON.stringify(doc));
    await page.getByLabel(/^Things/).selectOption({ label: "console-pi" });
    await page.getByRole("button", { name: "Create job" }).click();
    await page.waitForURL(/#\/jobs\/console-force$/);
    await page.locator("td .status.s-IN_PROGRESS").waitFor({ timeout: 20_000 });
    await page.getByRole("button", { name: "Cancel with force" }).click();
    await page.getByText("Job canceled with force.").waitFor();
    await page.locator("td .status.s-CANCELED").waitFor({ timeout: 10_000 });
    await page.getByText("(forced)").waitFor();
    // The agent gave up the step and takes the next job: a document job after it succeeds at once.
    const next = { version: "1.0", steps: [{ action: { name: "x", type: "runCommand", input: { command: "true" } } }] };
    const res = await fetch(`${svc.http}/jobs/console-after-force`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        targets: ["arn:aws:iot:us-east-1:123456789012:thing/console-pi"],
        document: JSON.stringify(next),
      }),
    });
    expect(res.status).toBe(200);
    await open("#/jobs/console-after-force");
    await page.locator("td .status.s-SUCCEEDED").waitFor({ timeout: 20_000 });
  }, 60_000);

  test("a job from an AWS managed template: its parameters checked with their regexes, then SUCCEEDED", async () => {
    await open("#/create");
    await page.getByLabel("Start from").selectOption("managed");
    await page.getByLabel("Job ID").fill("console-managed");
    await page.getByLabel("AWS managed template").selectOption("AWS-Run-Command");
    const command = page.getByLabel(/^command/);
    const createJob = page.getByRole("button", { name: "Create job" });
    await command.fill("");
    await page.getByLabel(/^Things/).selectOption({ label: "console-pi" });
    const sent: string[] = []; // job writes the page sends
    const onRequest = (r: { method(): string; url(): string }) =>
      void (r.method() === "PUT" && r.url().includes("/jobs/") && sent.push(r.url()));
    page.on("request", onRequest);
    await createJob.click();
    await page.locator("#param-command-err", { hasText: "Required." }).waitFor(); // checked before sending
    await expect(command.getAttribute("aria-invalid")).resolves.toBe("true");
    // Longer than its regex (.){1,4096} allows: the form says so and sends nothing.
    await command.fill("x".repeat(4097));
    await createJob.click();
    await page.locator("#param-command-err", { hasText: "Must match (.){1,4096}" }).waitFor();
    await expect(command.getAttribute("aria-invalid")).resolves.toBe("true");
    await page.waitForTimeout(300); // a request that got through would be on its way by now
    page.off("request", onRequest);
    expect([sent, page.url().endsWith("#/create")]).toEqual([[], true]);
    expect((await fetch(`${svc.http}/jobs/console-managed`)).status).toBe(404);
    await command.fill("printf,managed template ok");
    await command.scrollIntoViewIfNeeded();
    await shot("create-managed");
    await page.getByRole("button", { name: "Create job" }).click();
    await page.waitForURL(/#\/jobs\/console-managed$/);
    await page.locator("td .status.s-SUCCEEDED").waitFor({ timeout: 30_000 });
    // The managed document has no includeStdOut: what ran is in the delivered document.
    await expect(page.getByLabel("Document as delivered").textContent()).resolves.toContain(
      "printf,managed template ok",
    );
    await expect(page.getByLabel("Job configuration").textContent()).resolves.toContain("AWS-Run-Command");
    await shot("job-managed");
  }, 45_000);

  test("a job from a custom job template", async () => {
    const steps = [{ action: { name: "t", type: "runCommand", input: { command: "printf,from a custom template" } } }];
    const created = await fetch(`${svc.http}/job-templates/console-template`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        description: "printf",
        document: JSON.stringify({ version: "1.0", includeStdOut: true, steps }),
      }),
    });
    expect(created.status).toBe(200);
    await open("#/create");
    await page.getByLabel("Job ID").fill("console-custom");
    await page.getByLabel("Start from").selectOption("custom");
    await page.getByLabel("Custom template").selectOption({ label: "console-template" });
    await page.getByLabel(/^Things/).selectOption({ label: "console-pi" });
    await page.getByRole("button", { name: "Create job" }).click();
    await page.waitForURL(/#\/jobs\/console-custom$/);
    await page.getByText("from a custom template", { exact: true }).waitFor({ timeout: 30_000 });
  }, 45_000);

  test("accessibility basics: every control has a label; the form works from the keyboard", async () => {
    await open("#/jobs"); // every job the tests above made
    await page.getByRole("link", { name: "console-force" }).waitFor();
    await shot("jobs");
    for (const view of ["#/create", "#/packages", "#/things", "#/jobs/console-doc"]) {
      await open(view);
      await page.waitForLoadState("networkidle");
      const unlabeled = await page.$$eval("input, select, textarea", (els) =>
        els
          .filter(
            (e) => !(e as unknown as { labels?: { length: number } }).labels?.length && !e.getAttribute("aria-label"),
          )
          .map((e) => e.outerHTML),
      );
      expect([view, unlabeled]).toEqual([view, []]);
    }
    // A package from the keyboard alone: type, Tab, type, Enter submits.
    await open("#/packages");
    await page.getByLabel("Package name").focus();
    await page.keyboard.type("kb-package");
    await page.keyboard.press("Tab");
    await page.keyboard.type("typed, not clicked");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "kb-package" }).waitFor();
    await open("#/create");
    await page.getByLabel("Job ID").waitFor();
    await page.getByLabel("Job ID").focus();
    await page.keyboard.type("kb-job");
    // Tab to the submit button and press Enter without targets: the error is announced and focused.
    let reached = false;
    for (let i = 0; i < 20 && !reached; i++) {
      await page.keyboard.press("Tab");
      reached = await page.evaluate(
        () => (globalThis as unknown as Browserish).document.activeElement?.textContent === "Create job",
      );
    }
    expect(reached).toBe(true);
    await page.keyboard.press("Enter");
    await expect(page.evaluate(() => (globalThis as unknown as Browserish).document.activeElement?.id)).resolves.toBe(
      "job-things",
    );
    await expect(page.locator("#job-things-err").textContent()).resolves.toContain(
      "Choose at least one thing or group",
    );
  }, 30_000);
});
