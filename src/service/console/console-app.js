// The iot-jobs-local console: a single page without a framework (the DOM and fetch are enough for
// five views). It reads the console's read-only views (/console/api/…) and changes state only
// through the AWS REST operations the SDKs use (same origin, JSON), so the API's validation and
// errors are the console's. /console/events says what changed; the open view re-reads itself.
// Served as is (no build step); uPlot (window.uPlot) draws the roll-out chart.

const STATUSES = ["QUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "TIMED_OUT", "REJECTED", "REMOVED", "CANCELED"];
const main = document.getElementById("main");

// ---- small helpers ------------------------------------------------------------------------------

/** h("tag.class", {attr…, onclick}, children…): an element; strings become text (never HTML). */
function h(tag, attrs, ...children) {
  const [name, ...classes] = tag.split(".");
  const el = document.createElement(name);
  if (classes.length) el.className = classes.join(" ");
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "value") el.value = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) if (c !== undefined && c !== null && c !== false) el.append(c);
  return el;
}

const time = (s) => (s ? new Date(s * 1000).toLocaleString() : "");
const statusEl = (s) => h(`span.status.s-${s}`, {}, s);
const enc = encodeURIComponent;

class ApiError extends Error {
  constructor(status, type, message) {
    super(`${type ?? `HTTP ${status}`}: ${message}`);
    this.status = status;
    this.type = type;
  }
}

/** A console view or an AWS operation; writes send JSON (request-guard refuses form types). */
async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const text = await res.text();
  const value = text ? JSON.parse(text) : {};
  if (!res.ok) throw new ApiError(res.status, res.headers.get("x-amzn-ErrorType"), value.message ?? text);
  return value;
}
const view = (path) => api("GET", `/console/api${path}`);

function progressBar(counts) {
  const total = STATUSES.reduce((n, s) => n + (counts[s] ?? 0), 0);
  const label =
    STATUSES.filter((s) => counts[s])
      .map((s) => `${s} ${counts[s]}`)
      .join(", ") || "no executions";
  return h(
    "div.bar",
    { role: "img", "aria-label": `Things: ${label}` },
    STATUSES.filter((s) => counts[s]).map((s) =>
      h("span", { style: `width:${(100 * counts[s]) / total}%;background:var(--${s})`, title: `${s}: ${counts[s]}` }),
    ),
  );
}

function legend(counts) {
  return h(
    "div.legend",
    {},
    STATUSES.filter((s) => counts[s]).map((s) =>
      h("span", {}, h("i", { style: `background:var(--${s})` }), `${s} ${counts[s]}`),
    ),
  );
}

function field(id, label, input, hint) {
  input.id = id;
  const err = h("div.err", { id: `${id}-err`, role: "alert" });
  input.setAttribute("aria-describedby", `${id}-err${hint ? ` ${id}-hint` : ""}`);
  // An error stays until the value changes, then it is checked again on submit.
  input.addEventListener("input", () => setError(input));
  input.addEventListener("change", () => setError(input));
  return h(
    "div.field",
    {},
    h("label", { for: id }, label),
    hint && h("span.hint", { id: `${id}-hint` }, hint),
    input,
    err,
  );
}

function setError(input, message) {
  const err = document.getElementById(`${input.id}-err`);
  if (err) err.textContent = message ?? "";
  input.setAttribute("aria-invalid", message ? "true" : "false");
  return !message;
}

// ---- live updates ---------------------------------------------------------------------------------

let current = { interested: () => false, refresh: async () => {}, dispose: () => {} };
let refreshing = false;
let again = false;

async function refresh() {
  if (refreshing) {
    again = true;
    return;
  }
  refreshing = true;
  try {
    await current.refresh();
  } catch (e) {
    console.warn(e);
  } finally {
    refreshing = false;
    if (again) {
      again = false;
      setTimeout(refresh, 250);
    }
  }
}

function connectEvents() {
  const live = document.getElementById("live");
  const source = new EventSource("/console/events");
  let connectedBefore = false;
  source.addEventListener("hello", () => {
    live.textContent = "live";
    live.className = "live";
    // Back after a disconnection (a restarted service): what changed meanwhile was not announced.
    if (connectedBefore) refresh();
    connectedBefore = true;
  });
  source.addEventListener("change", (e) => {
    const change = JSON.parse(e.data);
    if (current.interested(change)) refresh();
  });
  source.onerror = () => {
    live.textContent = "reconnecting…";
    live.className = "live off";
  };
}

// ---- router ---------------------------------------------------------------------------------------

async function route() {
  current.dispose();
  const hash = location.hash.replace(/^#/, "") || "/jobs";
  const parts = hash.split("/").filter(Boolean).map(decodeURIComponent);
  for (const a of document.querySelectorAll("header nav a"))
    a.toggleAttribute("aria-current", hash.startsWith(a.getAttribute("href").slice(1).replace(/\/$/, "")));
  for (const a of document.querySelectorAll("header nav a[aria-current]")) a.setAttribute("aria-current", "page");
  main.replaceChildren();
  const views = {
    jobs: parts[1] ? () => jobPage(parts[1]) : jobsPage,
    create: createPage,
    things: thingsPage,
    packages: packagesPage,
  };
  current = await (views[parts[0]] ?? jobsPage)();
  await refresh();
}

const page = (title, ...content) => main.append(h("h1", {}, title), ...content);
const wants =
  (...kinds) =>
  (change) =>
    kinds.some((k) => change.kinds.includes(k));

// ---- jobs -----------------------------------------------------------------------------------------

function jobsPage() {
  document.title = "Jobs · iot-jobs-local";
  const body = h("tbody");
  page(
    "Jobs",
    h(
      "section",
      {},
      h(
        "table",
        {},
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["Job", "Status", "Progress", "Target selection", "Created"].map((t) => h("th", { scope: "col" }, t)),
          ),
        ),
        body,
      ),
    ),
  );
  return {
    interested: wants("job", "execution"),
    dispose() {},
    async refresh() {
      const { jobs } = await view("/jobs");
      body.replaceChildren(
        ...(jobs.length
          ? jobs.map((j) =>
              h(
                "tr",
                {},
                h(
                  "td",
                  {},
                  h("a", { href: `#/jobs/${enc(j.jobId)}` }, j.jobId),
                  j.description && h("div.muted.small", {}, j.description),
                ),
                h("td", {}, statusEl(j.status)),
                h("td", {}, progressBar(j.counts), legend(j.counts)),
                h("td", {}, j.targetSelection),
                h("td", {}, time(j.createdAt)),
              ),
            )
          : [h("tr", {}, h("td", { colspan: 5 }, "No jobs yet. ", h("a", { href: "#/create" }, "Create one")))]),
      );
    },
  };
}

/** Chart x-axis tick spacings, in seconds (points are never closer than 1 s): 1 s … 30 days. */
const TIME_INCRS = [
  1, 5, 10, 15, 30, 60, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 172_800, 604_800, 1_209_600,
  2_592_000,
];

/** Chart y-axis tick spacings: whole things. */
const COUNT_INCRS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000];

function jobPage(jobId) {
  document.title = `${jobId} · iot-jobs-local`;
  const summary = h("div");
  const chartBox = h("div", { role: "img", "aria-label": "Things by status over time" });
  const config = h("pre", { tabindex: 0, "aria-label": "Job configuration" });
  const before = h("pre", { tabindex: 0, "aria-label": "Document before substitution" });
  const after = h("pre", { tabindex: 0, "aria-label": "Document as delivered" });
  const message = h("div.alert", { role: "alert" });
  const filter = h(
    "select",
    {
      onchange: () => {
        offset = 0;
        refresh();
      },
    },
    h("option", { value: "" }, "all"),
    STATUSES.map((s) => h("option", { value: s }, s)),
  );
  const rows = h("tbody");
  const pager = h("div.actions.small");
  let offset = 0;
  let lastShown = "";
  let chart;
  const cancel = (force) => async () => {
    const what = force
      ? "Cancel with force: IN_PROGRESS executions end CANCELED too, the devices are told to stop. Continue?"
      : "Cancel this job? Queued executions end CANCELED.";
    if (!confirm(what)) return;
    try {
      await api("PUT", `/jobs/${enc(jobId)}/cancel${force ? "?force=true" : ""}`, {});
      message.className = "alert ok";
      message.textContent = force ? "Job canceled with force." : "Job canceled.";
      refresh();
    } catch (e) {
      message.className = "alert";
      message.textContent = e.message;
    }
  };
  const cancelButton = h("button.danger", { type: "button", onclick: cancel(false) }, "Cancel");
  const forceButton = h("button.danger", { type: "button", onclick: cancel(true) }, "Cancel with force");
  page(
    jobId,
    h("div.actions", {}, cancelButton, forceButton, h("a", { href: "#/jobs" }, "All jobs")),
    message,
    h("section", {}, h("h2", {}, "Progress"), summary),
    h("section", {}, h("h2", {}, "Roll-out over time"), chartBox),
    h(
      "div.grid2",
      {},
      h("section", {}, h("h2", {}, "Configuration"), config),
      h(
        "section",
        {},
        h("h2", {}, "Document"),
        h("h3.small", {}, "As delivered (after substitution)"),
        after,
        h("h3.small", {}, "Before substitution"),
        before,
      ),
    ),
    h(
      "section",
      {},
      h("h2", {}, "Executions"),
      h("div.row", {}, field("exec-status", "Status", filter)),
      h(
        "table",
        { "aria-label": "Executions" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["Thing", "Status", "Execution", "Status details", "Queued", "Started", "Last update"].map((t) =>
              h("th", { scope: "col" }, t),
            ),
          ),
        ),
        rows,
      ),
      pager,
    ),
  );

  const drawChart = (t) => {
    const present = STATUSES.filter((s) => t.counts[s]);
    const n = present.length ? t.counts[present[0]].length : 0;
    const xs = Array.from({ length: n }, (_, i) => t.start + i * t.stepSeconds);
    const data = [xs, ...present.map((s) => t.counts[s])];
    const label = t.stepSeconds >= 60 ? `${t.stepSeconds / 60} min` : `${t.stepSeconds} s`;
    chartBox.setAttribute("aria-label", `Things by the status of their latest execution, one point per ${label}`);
    const css = getComputedStyle(document.documentElement);
    const opts = {
      width: Math.max(320, chartBox.clientWidth || 800),
      height: 240,
      // Counts hold until the end of each interval: steps, not lines between points.
      series: [
        {},
        ...present.map((s) => ({
          label: s,
          stroke: css.getPropertyValue(`--${s}`).trim(),
          width: 2,
          paths: window.uPlot?.paths.stepped({ align: 1 }),
        })),
      ],
      // Whole seconds and whole things: uPlot's defaults tick a seconds-long roll-out at ":53.050"
      // and one thing at 0.2.
      axes: [{ incrs: TIME_INCRS }, { label: "things", incrs: COUNT_INCRS }],
      legend: { show: true },
    };
    if (!window.uPlot || n === 0)
      return void chartBox.replaceChildren(
        h("p.muted", {}, n === 0 ? "No executions yet." : "Chart library not loaded."),
      );
    const key = present.join();
    if (chart && chart.key === key) chart.setData(data);
    else {
      chart?.destroy();
      chartBox.replaceChildren();
      chart = new window.uPlot(opts, data, chartBox);
      chart.key = key;
    }
  };

  return {
    interested: (c) => c.jobs === "*" || (Array.isArray(c.jobs) && c.jobs.includes(jobId)),
    dispose: () => chart?.destroy(),
    async refresh() {
      let detail;
      try {
        detail = await view(`/jobs/${enc(jobId)}`);
      } catch (e) {
        summary.replaceChildren(h("p.alert", {}, e.message));
        return;
      }
      // counts are things by their latest execution (as DescribeJob); attempts include retries.
      const { job, counts, attempts, timeline } = detail;
      const total = Object.values(counts).reduce((a, b) => a + b, 0);
      summary.replaceChildren(
        h(
          "div.kv",
          {},
          h("span.muted", {}, "Status"),
          statusEl(job.status),
          h("span.muted", {}, "Things"),
          h(
            "span",
            {},
            String(total),
            attempts > total ? h("span.muted", {}, ` (${attempts} executions with retries)`) : "",
          ),
        ),
        progressBar(counts),
        legend(counts),
      );
      const finished = job.status !== "IN_PROGRESS";
      cancelButton.disabled = finished;
      forceButton.disabled = job.status === "COMPLETED" || (job.status === "CANCELED" && job.forceCanceled);
      const { document: doc, documentBeforeSubstitution, ...rest } = job;
      setText(config, JSON.stringify(rest, null, 2));
      setText(after, pretty(doc));
      setText(before, pretty(documentBeforeSubstitution));
      drawChart(timeline);
      const status = filter.value;
      const res = await view(`/jobs/${enc(jobId)}/executions?offset=${offset}${status ? `&status=${status}` : ""}`);
      // During a roll-out most refreshes change the counts, not the 200 rows shown: keep those.
      const shown = JSON.stringify(res);
      if (shown === lastShown) return;
      lastShown = shown;
      rows.replaceChildren(
        ...res.executions.map((e) =>
          h(
            "tr",
            {},
            h("td", {}, e.thingName),
            h("td", {}, statusEl(e.status), e.forceCanceled && h("span.muted.small", {}, " (forced)")),
            h(
              "td",
              {},
              `#${e.executionNumber}`,
              e.retryAttempt ? ` retry ${e.retryAttempt}` : "",
              h("div.muted.small", {}, `v${e.versionNumber}`),
            ),
            h("td", {}, details(e.statusDetails)),
            h("td.small", {}, time(e.queuedAt)),
            h("td.small", {}, time(e.startedAt)),
            h("td.small", {}, time(e.lastUpdatedAt)),
          ),
        ),
        ...(res.executions.length ? [] : [h("tr", {}, h("td", { colspan: 7 }, "No executions match."))]),
      );
      const to = res.offset + res.executions.length;
      pager.replaceChildren(
        `${res.total ? res.offset + 1 : 0}–${to} of ${res.total}`,
        h(
          "button",
          {
            type: "button",
            disabled: res.offset === 0,
            onclick: () => {
              offset = Math.max(0, offset - 200);
              refresh();
            },
          },
          "Previous",
        ),
        h(
          "button",
          {
            type: "button",
            disabled: to >= res.total,
            onclick: () => {
              offset += 200;
              refresh();
            },
          },
          "Next",
        ),
      );
    },
  };
}

/** A package version's artifact as people write it (s3://bucket/key), or its JSON if it is not S3. */
function artifactText(artifact) {
  const s3 = artifact?.s3Location;
  if (!artifact) return "";
  if (!s3) return JSON.stringify(artifact);
  return `s3://${s3.bucket}/${s3.key}${s3.version ? ` (version ${s3.version})` : ""}`;
}

/** Replaces an element's text only when it changed (no layout work for the same text). */
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function details(map) {
  const entries = Object.entries(map ?? {});
  if (!entries.length) return h("span.muted", {}, "—");
  return h(
    "div.kv",
    {},
    entries.map(([k, v]) => [h("span.muted", {}, k), h("pre.small", {}, v)]),
  );
}

function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

// ---- create a job ---------------------------------------------------------------------------------

async function createPage() {
  document.title = "Create job · iot-jobs-local";
  const message = h("div.alert", { role: "alert" });
  const jobId = h("input", { required: true, maxlength: 64, pattern: "[a-zA-Z0-9_-]+", autocomplete: "off" });
  const description = h("input", { maxlength: 2028 });
  const source = h(
    "select",
    { onchange: () => showSource() },
    h("option", { value: "document" }, "A job document"),
    h("option", { value: "custom" }, "A custom job template"),
    h("option", { value: "managed" }, "An AWS managed template"),
  );
  const documentText = h("textarea", { rows: 10, spellcheck: "false" });
  documentText.value = JSON.stringify(
    { version: "1.0", steps: [{ action: { name: "hello", type: "runCommand", input: { command: "echo,hello" } } }] },
    null,
    2,
  );
  const customSelect = h("select");
  const customBox = h("div");
  const managedSelect = h("select", { onchange: () => loadManaged() });
  const managedBox = h("div");
  const paramsBox = h("fieldset", { hidden: true }, h("legend", {}, "Document parameters"));
  const thingFilter = h("input", { type: "search", placeholder: "filter by name", oninput: () => loadThings() });
  const thingSelect = h("select", { multiple: true, size: 8 });
  const groupSelect = h("select", { multiple: true, size: 6 });
  const selection = h(
    "select",
    {},
    h("option", { value: "SNAPSHOT" }, "SNAPSHOT"),
    h("option", { value: "CONTINUOUS" }, "CONTINUOUS"),
  );
  const packageVersions = h("input", { placeholder: "arn:aws:iot:…:package/NAME/version/VERSION, …" });
  const perMinute = h("input", { type: "number", min: 1, max: 1000, inputmode: "numeric" });
  const chosen = new Set();
  let managed; // the described managed template

  const docField = field("job-document", "Job document (JSON)", documentText);
  const paramInputs = [];

  function showSource() {
    docField.hidden = source.value !== "document";
    customBox.hidden = source.value !== "custom";
    managedBox.hidden = source.value !== "managed";
    paramsBox.hidden = source.value !== "managed" || !managed;
  }

  async function loadThings() {
    const res = await view(`/things?limit=200&q=${enc(thingFilter.value)}`);
    thingSelect.replaceChildren(
      ...res.things.map((t) => h("option", { value: t.thingArn, selected: chosen.has(t.thingArn) }, t.thingName)),
    );
  }
  thingSelect.addEventListener("change", () => {
    for (const o of thingSelect.options) o.selected ? chosen.add(o.value) : chosen.delete(o.value);
  });

  async function loadManaged() {
    paramInputs.length = 0;
    paramsBox.replaceChildren(h("legend", {}, "Document parameters"));
    managed = undefined;
    if (!managedSelect.value) return showSource();
    try {
      managed = await api("GET", `/managed-job-templates/${enc(managedSelect.value)}`);
    } catch (e) {
      message.textContent = e.message;
      return;
    }
    paramsBox.append(h("p.hint", {}, managed.description ?? ""));
    for (const p of managed.documentParameters ?? []) {
      const input = h("input", {
        name: p.key,
        placeholder: p.example ?? "",
        required: !p.optional,
        "data-regex": p.regex,
      });
      paramInputs.push(input);
      paramsBox.append(
        field(
          `param-${p.key}`,
          `${p.key}${p.optional ? " (optional)" : ""}`,
          input,
          `${p.description ?? ""} Pattern: ${p.regex}`,
        ),
      );
    }
    showSource();
  }

  const form = h(
    "form",
    {
      novalidate: true,
      onsubmit: (e) => {
        e.preventDefault();
        submit();
      },
    },
    field("job-id", "Job ID", jobId, "Letters, digits, - and _; at most 64"),
    field("job-description", "Description (optional)", description),
    field("job-source", "Start from", source),
    docField,
    customBox,
    managedBox,
    paramsBox,
    h(
      "fieldset",
      {},
      h("legend", {}, "Targets"),
      field("thing-filter", "Find things", thingFilter),
      field("job-things", "Things (Ctrl/Shift-click or Shift+arrows for several)", thingSelect),
      field("job-groups", "Thing groups", groupSelect),
    ),
    field("job-selection", "Target selection", selection),
    field("job-packages", "Destination package versions (optional, comma-separated ARNs)", packageVersions),
    field(
      "job-rate",
      "Roll-out rate (optional, things per minute)",
      perMinute,
      "jobExecutionsRolloutConfig.maximumPerMinute, 1 to 1000",
    ),
    h("div.actions", {}, h("button.primary", { type: "submit" }, "Create job")),
  );
  page("Create a job", message, h("section", {}, form));

  // Templates: 501 means this version of iot-jobs-local has no such operation.
  const unavailable = (e, what) =>
    h(
      "p.alert",
      { "data-unavailable": "true" },
      e.status === 501 ? `${what} are not available in this version of iot-jobs-local (${e.message})` : e.message,
    );
  try {
    const { jobTemplates = [] } = await api("GET", "/job-templates");
    customSelect.replaceChildren(
      h("option", { value: "" }, jobTemplates.length ? "choose…" : "no custom templates"),
      ...jobTemplates.map((t) => h("option", { value: t.jobTemplateArn }, t.jobTemplateId)),
    );
    customBox.append(field("job-template", "Custom template", customSelect));
  } catch (e) {
    customBox.append(unavailable(e, "Custom job templates"));
  }
  try {
    const { managedJobTemplates = [] } = await api("GET", "/managed-job-templates");
    managedSelect.replaceChildren(
      h("option", { value: "" }, "choose…"),
      ...managedJobTemplates.map((t) => h("option", { value: t.templateName }, t.templateName)),
    );
    managedBox.append(field("managed-template", "AWS managed template", managedSelect));
  } catch (e) {
    managedBox.append(unavailable(e, "AWS managed templates"));
  }
  const { groups } = await view("/groups");
  groupSelect.replaceChildren(
    ...groups.map((g) =>
      h("option", { value: g.thingGroupArn }, `${g.thingGroupName}${g.dynamic ? " (dynamic)" : ""} · ${g.memberCount}`),
    ),
  );
  await loadThings();
  showSource();

  async function submit() {
    message.className = "alert";
    message.textContent = "";
    let ok = setError(
      jobId,
      jobId.value && /^[a-zA-Z0-9_-]{1,64}$/.test(jobId.value)
        ? undefined
        : "Enter a job ID: letters, digits, - and _, at most 64.",
    );
    const targets = [...chosen, ...[...groupSelect.selectedOptions].map((o) => o.value)];
    ok = setError(thingSelect, targets.length ? undefined : "Choose at least one thing or group.") && ok;
    const body = { targets, targetSelection: selection.value };
    if (description.value) body.description = description.value;
    const versions = packageVersions.value
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    if (versions.length) body.destinationPackageVersions = versions;
    if (perMinute.value) {
      const rate = Number(perMinute.value);
      const valid = Number.isInteger(rate) && rate >= 1 && rate <= 1000;
      ok = setError(perMinute, valid ? undefined : "A whole number from 1 to 1000.") && ok;
      body.jobExecutionsRolloutConfig = { maximumPerMinute: rate };
    }
    if (source.value === "document") {
      try {
        JSON.parse(documentText.value);
        setError(documentText);
      } catch (e) {
        ok = setError(documentText, `Not valid JSON: ${e.message}`) && false;
      }
      body.document = documentText.value;
    } else if (source.value === "custom") {
      ok = setError(customSelect, customSelect.value ? undefined : "Choose a template.") && ok;
      body.jobTemplateArn = customSelect.value;
    } else {
      ok = setError(managedSelect, managed ? undefined : "Choose a template.") && ok;
      if (managed) {
        body.jobTemplateArn = managed.templateArn;
        body.documentParameters = {};
        for (const input of paramInputs) {
          const value = input.value;
          let problem;
          if (!value && input.required) problem = "Required.";
          else if (value) {
            try {
              if (!new RegExp(`^(?:${input.dataset.regex})$`, "u").test(value))
                problem = `Must match ${input.dataset.regex}`;
            } catch {
              // A regex JavaScript cannot read is left to the service to check.
            }
          }
          ok = setError(input, problem) && ok;
          if (value) body.documentParameters[input.name] = value;
        }
      }
    }
    if (!ok) {
      form.querySelector('[aria-invalid="true"]')?.focus();
      return;
    }
    try {
      await api("PUT", `/jobs/${enc(jobId.value)}`, body);
      location.hash = `#/jobs/${enc(jobId.value)}`;
    } catch (e) {
      message.textContent = e.message;
      message.focus?.();
    }
  }

  return { interested: wants("group", "thing"), dispose() {}, refresh: async () => {} };
}

// ---- things and groups ----------------------------------------------------------------------------

function thingsPage() {
  document.title = "Things · iot-jobs-local";
  const q = h("input", { type: "search", oninput: () => refresh() });
  const things = h("tbody");
  const count = h("p.muted.small");
  const groups = h("tbody");
  const fleet = h("div");
  page(
    "Things and groups",
    h("section", {}, h("h2", {}, "Package versions across the fleet"), fleet),
    h(
      "section",
      {},
      h("h2", {}, "Things"),
      field("thing-q", "Filter by name", q),
      count,
      h(
        "table",
        {},
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["Thing", "Connected", "Groups", "Attributes", "Packages ($package)"].map((t) =>
              h("th", { scope: "col" }, t),
            ),
          ),
        ),
        things,
      ),
    ),
    h(
      "section",
      {},
      h("h2", {}, "Groups"),
      h(
        "table",
        {},
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["Group", "Kind", "Query", "Members"].map((t) => h("th", { scope: "col" }, t)),
          ),
        ),
        groups,
      ),
    ),
  );
  return {
    interested: wants("thing", "group", "shadow", "connection", "package", "version"),
    dispose() {},
    async refresh() {
      const [t, g, f] = await Promise.all([
        view(`/things?q=${enc(q.value)}`),
        view("/groups"),
        view("/fleet-packages"),
      ]);
      count.textContent = `${t.total} things${t.total > t.things.length ? ` (first ${t.things.length} shown)` : ""}`;
      things.replaceChildren(
        ...t.things.map((x) =>
          h(
            "tr",
            {},
            h("td", {}, x.thingName, x.thingTypeName && h("div.muted.small", {}, x.thingTypeName)),
            h(
              "td",
              {},
              x.connected === undefined
                ? h("span.muted", {}, "unknown")
                : x.connected
                  ? "● connected"
                  : h("span.muted", {}, "○ offline"),
            ),
            h(
              "td",
              {},
              x.groups.map((n) => h("span.tag", {}, n)),
              x.dynamicGroups.map((n) => h("span.tag.dyn", { title: "dynamic" }, n)),
            ),
            h(
              "td.small",
              {},
              Object.entries(x.attributes).map(([k, v]) => h("div", {}, `${k}=${v}`)),
            ),
            h(
              "td.small",
              {},
              Object.entries(x.packages).map(([k, v]) => h("div", {}, `${k} ${v}`)),
            ),
          ),
        ),
      );
      groups.replaceChildren(
        ...g.groups.map((x) =>
          h(
            "tr",
            {},
            h(
              "td",
              {},
              x.thingGroupName,
              x.parentGroupName && h("div.muted.small", {}, `in ${x.parentGroupName}`),
              g.problems[x.thingGroupName] && h("div.err", {}, g.problems[x.thingGroupName]),
            ),
            h("td", {}, x.dynamic ? "dynamic" : "static"),
            h("td", {}, x.queryString ? h("code", {}, x.queryString) : ""),
            h("td.small", {}, `${x.memberCount}: `, x.members.slice(0, 20).join(", "), x.memberCount > 20 ? " …" : ""),
          ),
        ),
      );
      fleet.replaceChildren(
        ...(f.packages.length
          ? f.packages.map((p) =>
              h(
                "div.card",
                {},
                h("h3.small", {}, p.packageName),
                h(
                  "table",
                  {},
                  h(
                    "thead",
                    {},
                    h(
                      "tr",
                      {},
                      ["Version", "Things", "", "Which"].map((t) => h("th", { scope: "col" }, t)),
                    ),
                  ),
                  h(
                    "tbody",
                    {},
                    p.versions.map((v) =>
                      h(
                        "tr",
                        {},
                        h("td", {}, v.version),
                        h("td", {}, String(v.count)),
                        h(
                          "td",
                          {},
                          h(
                            "div.bar",
                            { role: "img", "aria-label": `${v.count} of ${f.thingCount}` },
                            h("span", {
                              style: `width:${f.thingCount ? (100 * v.count) / f.thingCount : 0}%;background:var(--accent)`,
                            }),
                          ),
                        ),
                        h("td.small", {}, v.things.slice(0, 30).join(", "), v.count > 30 ? " …" : ""),
                      ),
                    ),
                  ),
                ),
              ),
            )
          : [h("p.muted", {}, "No package is installed or known yet.")]),
      );
    },
  };
}

// ---- packages -------------------------------------------------------------------------------------

function packagesPage() {
  document.title = "Packages · iot-jobs-local";
  const message = h("div.alert", { role: "alert" });
  const list = h("div");
  const pkgName = h("input", { required: true, maxlength: 128 });
  const pkgDescription = h("input");
  const verPackage = h("select");
  const verName = h("input", { required: true, maxlength: 64 });
  const verDescription = h("input");
  const verAttributes = h("textarea", { rows: 3, placeholder: "key=value, one a line" });
  const verArtifact = h("input", { placeholder: "s3://bucket/key" });
  const act = (fn, done) => async (e) => {
    e?.preventDefault?.();
    message.className = "alert";
    message.textContent = "";
    try {
      await fn();
      message.className = "alert ok";
      message.textContent = done;
      refresh();
    } catch (err) {
      message.textContent = err.message;
    }
  };
  const createPackage = h(
    "form",
    {
      onsubmit: act(
        () =>
          api(
            "PUT",
            `/packages/${enc(pkgName.value)}`,
            pkgDescription.value ? { description: pkgDescription.value } : {},
          ),
        "Package created.",
      ),
    },
    h("h2", {}, "New package"),
    field("pkg-name", "Package name", pkgName),
    field("pkg-description", "Description (optional)", pkgDescription),
    h("button.primary", { type: "submit" }, "Create package"),
  );
  const createVersion = h(
    "form",
    {
      onsubmit: act(() => {
        const attributes = {};
        for (const line of verAttributes.value
          .split("\n")
          .map((l) => l.trim())
          .filter(Boolean)) {
          const at = line.indexOf("=");
          if (at < 1) throw new Error(`Attribute "${line}" is not key=value`);
          attributes[line.slice(0, at).trim()] = line.slice(at + 1).trim();
        }
        const body = { attributes };
        if (verDescription.value) body.description = verDescription.value;
        if (verArtifact.value) {
          const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(verArtifact.value.trim());
          if (!m) throw new Error("The artifact must be an S3 location: s3://bucket/key");
          body.artifact = { s3Location: { bucket: m[1], key: m[2] } };
        }
        return api("PUT", `/packages/${enc(verPackage.value)}/versions/${enc(verName.value)}`, body);
      }, "Version created (DRAFT)."),
    },
    h("h2", {}, "New version"),
    field("ver-package", "Package", verPackage),
    field("ver-name", "Version name", verName),
    field("ver-description", "Description (optional)", verDescription),
    field("ver-attributes", "Attributes (optional)", verAttributes, "key=value, one a line"),
    field("ver-artifact", "Artifact (optional)", verArtifact, "its S3 location, s3://bucket/key"),
    h("button.primary", { type: "submit" }, "Create version"),
  );
  // versionUpdateByJobsConfig: without it, SUCCEEDED jobs leave `$package` alone (as on AWS).
  const roleArn = h("input", { value: "arn:aws:iam::123456789012:role/iot-jobs-local-package-updates" });
  const tracking = h("input", {
    type: "checkbox",
    onchange: act(
      () =>
        api("PATCH", "/package-configuration", {
          versionUpdateByJobsConfig: { enabled: tracking.checked, roleArn: roleArn.value },
        }),
      "Package configuration saved.",
    ),
  });
  tracking.id = "pkg-tracking";
  const settings = h(
    "section",
    {},
    h("h2", {}, "Package configuration"),
    h(
      "div.field",
      {},
      h("label", {}, tracking, " Record the versions a SUCCEEDED job installs in the things' $package shadow"),
    ),
    field("pkg-role", "Role ARN (versionUpdateByJobsConfig.roleArn)", roleArn),
  );
  page(
    "Packages",
    message,
    settings,
    h("div.grid2", {}, h("section", {}, createPackage), h("section", {}, createVersion)),
    list,
  );
  return {
    interested: wants("package", "version", "setting"),
    dispose() {},
    async refresh() {
      const { packages, configuration } = await view("/packages");
      tracking.checked = configuration.versionUpdateByJobsConfig.enabled;
      if (configuration.versionUpdateByJobsConfig.roleArn)
        roleArn.value = configuration.versionUpdateByJobsConfig.roleArn;
      const chosen = verPackage.value;
      verPackage.replaceChildren(
        ...packages.map((p) =>
          h("option", { value: p.packageName, selected: p.packageName === chosen }, p.packageName),
        ),
      );
      list.replaceChildren(
        ...(packages.length ? [] : [h("section", {}, h("p.muted", {}, "No packages yet."))]),
        ...packages.map((p) =>
          h(
            "section",
            {},
            h("h2", {}, p.packageName),
            p.description && h("p.muted", {}, p.description),
            h("p.small", {}, "Default version: ", p.defaultVersionName ?? h("span.muted", {}, "none")),
            h(
              "table",
              {},
              h(
                "thead",
                {},
                h(
                  "tr",
                  {},
                  ["Version", "Status", "Attributes", "Artifact", "Actions"].map((t) => h("th", { scope: "col" }, t)),
                ),
              ),
              h(
                "tbody",
                {},
                p.versions.map((v) => {
                  const path = `/packages/${enc(p.packageName)}/versions/${enc(v.versionName)}`;
                  return h(
                    "tr",
                    {},
                    h("td", {}, v.versionName, v.description && h("div.muted.small", {}, v.description)),
                    h("td", {}, statusEl(v.status)),
                    h(
                      "td.small",
                      {},
                      Object.entries(v.attributes).map(([k, x]) => h("div", {}, `${k}=${x}`)),
                    ),
                    h("td.small", {}, artifactText(v.artifact)),
                    h(
                      "td",
                      {},
                      h(
                        "div.actions",
                        {},
                        v.status === "DRAFT" &&
                          h(
                            "button",
                            {
                              type: "button",
                              onclick: act(
                                () => api("PATCH", path, { action: "PUBLISH" }),
                                `${v.versionName} published.`,
                              ),
                            },
                            `Publish ${v.versionName}`,
                          ),
                        v.status === "PUBLISHED" &&
                          h(
                            "button",
                            {
                              type: "button",
                              onclick: act(
                                () => api("PATCH", path, { action: "DEPRECATE" }),
                                `${v.versionName} deprecated.`,
                              ),
                            },
                            `Deprecate ${v.versionName}`,
                          ),
                        v.status !== "DRAFT" &&
                          p.defaultVersionName !== v.versionName &&
                          h(
                            "button",
                            {
                              type: "button",
                              onclick: act(
                                () =>
                                  api("PATCH", `/packages/${enc(p.packageName)}`, {
                                    defaultVersionName: v.versionName,
                                  }),
                                `${v.versionName} is the default.`,
                              ),
                            },
                            "Make default",
                          ),
                      ),
                    ),
                  );
                }),
              ),
            ),
          ),
        ),
      );
    },
  };
}

// ---- start ----------------------------------------------------------------------------------------

window.addEventListener("hashchange", () => route().then(() => main.focus({ preventScroll: true })));
connectEvents();
route();
