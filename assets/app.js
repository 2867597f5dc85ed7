// imgbatch dashboard: every page reads and changes its data through the JSON API (/api/v1) with
// the session cookie; a change also carries the page's CSRF token. Elements are built with
// createElement and textContent only: product names and URLs come from merchants' files.
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? "";
const FINAL = new Set(["completed", "completed_with_errors", "failed", "succeeded"]);
const LABELS = {
  queued: "Queued", processing: "Processing", completed: "Completed",
  completed_with_errors: "Completed with errors", failed: "Failed", succeeded: "Succeeded", pending: "Pending",
};
// Browsers open at most six connections to one host over HTTP/1.1: a page follows only a few
// requests live and refreshes the rest when one of those finishes.
const MAX_STREAMS = 3;

/** Builds an element: h("a", {href: "/"}, "text", child). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  }
  return el;
}
const $ = (selector) => document.querySelector(selector);
const fill = (el, ...children) => { el.replaceChildren(...children.flat().filter((c) => c != null)); };

/** Calls the API; a problem answer is thrown as an Error carrying the problem document. */
async function api(path, { method = "GET", body, json } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["x-csrf-token"] = csrf;
  if (json !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(json); }
  let res;
  try {
    res = await fetch(path, { method, body, headers, credentials: "same-origin" });
  } catch {
    throw Object.assign(new Error("imgbatch could not be reached; check your connection"), { status: 0 });
  }
  if (res.status === 401) {
    location.assign("/signin?next=" + encodeURIComponent(location.pathname + location.search));
    throw Object.assign(new Error("your session has ended; sign in again"), { status: 401 });
  }
  const type = res.headers.get("content-type") || "";
  const data = type.includes("json") ? await res.json() : null;
  if (!res.ok) {
    throw Object.assign(new Error(data?.detail || `${res.status} ${res.statusText}`), { status: res.status, problem: data });
  }
  return data;
}

let toastTimer;
function toast(message) {
  const el = $("#toast");
  el.textContent = message;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 6000);
}

function bytes(n) {
  if (n === null || n === undefined) return "–";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10240 ? 1 : 0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
function saving(input, output) {
  if (!input || output === null || output === undefined) return null;
  const pct = Math.round((1 - output / input) * 100);
  return pct >= 0 ? `−${pct}%` : `+${-pct}%`;
}
const when = (iso) => (iso ? new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }) : "–");
const badge = (status) => h("span", { class: `badge ${status}`, "data-status": status }, LABELS[status] ?? status);
function bar(progress, label) {
  return h("div", { class: "bar" },
    h("progress", { max: "100", value: String(progress), "aria-label": label }),
    h("span", { class: "pct" }, `${progress}%`));
}
function transformText(t, quality) {
  const size = t.width || t.height ? `${t.width ?? "any"}×${t.height ?? "any"} (${t.fit})` : "original size";
  return `${(t.format || "jpeg").toUpperCase()} q${quality}, ${size}`;
}

/** Follows an events stream until its `finished` event. The browser reconnects a dropped stream
 *  by itself; one it gives up on (refused) is checked with a plain call, which sends an ended
 *  session to sign in and says what else went wrong. */
function follow(url, onUpdate) {
  const source = new EventSource(url);
  source.addEventListener("progress", (e) => onUpdate(JSON.parse(e.data), false));
  source.addEventListener("finished", (e) => { source.close(); onUpdate(JSON.parse(e.data), true); });
  source.addEventListener("error", () => {
    if (source.readyState !== EventSource.CLOSED) return;
    api(url.replace(/\/events$/, "")).then(
      () => toast("Live progress stopped; reload the page to follow it again"),
      (err) => toast(err.message));
  });
  return source;
}

/** Makes a drop zone show the chosen file's name and highlight while a file is dragged over. */
function dropZone(zone, input, nameEl) {
  const show = () => { nameEl.textContent = input.files[0] ? `${input.files[0].name} · ${bytes(input.files[0].size)}` : nameEl.dataset.empty; };
  nameEl.dataset.empty = nameEl.textContent;
  input.addEventListener("change", show);
  for (const type of ["dragenter", "dragover"]) zone.addEventListener(type, (e) => { e.preventDefault(); zone.classList.add("over"); });
  for (const type of ["dragleave", "dragend"]) zone.addEventListener(type, () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    if (e.dataTransfer?.files?.length) { input.files = e.dataTransfer.files; show(); }
  });
}

/** The options of a form, only those filled in. */
function optionFields(form, names) {
  const out = [];
  for (const name of names) {
    const value = form.elements[name]?.value.trim();
    if (value) out.push([name, value]);
  }
  return out;
}

function problemBlock(err) {
  const p = err.problem;
  const children = [h("strong", {}, p?.title ?? "The upload was refused"), ": ", err.message];
  if (!p?.errors?.length) return h("div", { class: "alert error", role: "alert" }, children);
  return h("div", { class: "alert error problems", role: "alert" }, h("p", {}, children),
    h("div", { class: "table-wrap" }, h("table", { id: "csv-problems" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Line"), h("th", { scope: "col" }, "Column"), h("th", { scope: "col" }, "Problem"))),
      h("tbody", {}, p.errors.map((e) => h("tr", {}, h("td", {}, e.line), h("td", {}, e.column ?? "–"), h("td", {}, e.message)))))));
}

// ---- Requests ---------------------------------------------------------------------------------

function requestsPage() {
  const limit = 20;
  let offset = 0;
  let streams = [];

  const form = $("#upload-form");
  dropZone($("#drop"), $("#file"), $("#file-name"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const file = $("#file").files[0];
    const result = $("#upload-result");
    if (!file) { fill(result, h("div", { class: "alert error", role: "alert" }, "Choose a CSV file first.")); return; }
    const body = new FormData();
    body.append("file", file);
    for (const [k, v] of optionFields(form, ["quality", "width", "height", "fit", "format", "webhook_url"])) body.append(k, v);
    const button = $("#upload-button");
    button.disabled = true;
    fill(result, h("p", { class: "muted" }, "Uploading…"));
    try {
      const accepted = await api("/api/v1/requests", { method: "POST", body });
      fill(result, h("div", { class: "alert ok", id: "upload-accepted" }, "Accepted ",
        h("a", { href: `/requests/${accepted.request_id}` }, accepted.request_id),
        `: ${accepted.products} products, ${accepted.images} images.`));
      form.reset();
      form.querySelector("details").open = false;
      $("#file-name").textContent = $("#file-name").dataset.empty;
      offset = 0;
      await load();
    } catch (err) {
      fill(result, problemBlock(err));
    } finally {
      button.disabled = false;
    }
  });
  $("#newer").addEventListener("click", () => { offset = Math.max(0, offset - limit); load(); });
  $("#older").addEventListener("click", () => { offset += limit; load(); });

  function cells(r) {
    const c = r.counts;
    return [
      h("td", {}, h("a", { class: "id-link", href: `/requests/${r.request_id}`, title: r.request_id }, r.request_id.slice(0, 8) + "…")),
      h("td", {}, badge(r.status)),
      h("td", {}, bar(r.progress, `Progress of request ${r.request_id}`)),
      h("td", { class: "num" }, `${c.succeeded + c.failed} / ${c.images}`, c.failed ? h("span", { class: "muted" }, ` (${c.failed} failed)`) : null),
      h("td", { class: "num hide-narrow" }, c.products),
      h("td", { class: "hide-narrow" }, when(r.created_at)),
    ];
  }

  // Only the latest load fills the list: an older answer arriving late is dropped.
  let loads = 0;
  async function load() {
    const mine = ++loads;
    const at = offset;
    for (const s of streams) s.close();
    streams = [];
    const list = $("#requests-list");
    let page;
    try {
      page = await api(`/api/v1/requests?offset=${at}&limit=${limit}`);
    } catch (err) {
      if (mine === loads) fill(list, h("div", { class: "alert error", role: "alert" }, err.message));
      return;
    }
    if (mine !== loads) return;
    $("#list-total").textContent = page.total ? `${page.total} in all` : "";
    $("#newer").disabled = at === 0;
    $("#older").disabled = at + page.items.length >= page.total;
    $("#page-info").textContent = page.total ? `${at + 1}–${at + page.items.length} of ${page.total}` : "";
    if (!page.items.length) {
      fill(list, h("p", { class: "empty-state" }, "No requests yet. Upload a CSV above to start."));
      return;
    }
    const rows = page.items.map((r) => h("tr", { "data-id": r.request_id }, cells(r)));
    fill(list, h("table", { id: "requests" },
      h("thead", {}, h("tr", {}, ["Request", "Status", "Progress", "Images", "Products", "Uploaded"].map((t, i) =>
        h("th", { scope: "col", class: i >= 4 ? "hide-narrow" : null }, t)))),
      h("tbody", {}, rows)));
    const running = page.items.filter((r) => !FINAL.has(r.status));
    const unfollowed = running.length - MAX_STREAMS;
    for (const r of running.slice(0, MAX_STREAMS)) {
      streams.push(follow(`/api/v1/requests/${r.request_id}/events`, (now, finished) => {
        const row = list.querySelector(`tr[data-id="${now.request_id}"]`);
        if (row) row.replaceChildren(...cells(now));
        // A request left unfollowed gets its stream when one of the followed ones is done.
        if (finished && unfollowed > 0 && mine === loads) load();
      }));
    }
  }
  load();
}

// ---- One request -------------------------------------------------------------------------------

function requestPage() {
  const id = $("#request").dataset.id;
  const base = `/api/v1/requests/${id}`;
  const pageSize = 50;
  let shown = 0;
  let status = null;
  let webhookUrl = null;

  function stat(label, value) {
    return h("div", { class: "stat" }, h("div", { class: "label" }, label), h("div", { class: "value" }, value));
  }
  function summary(r) {
    status = r.status;
    webhookUrl = r.webhook_url;
    const c = r.counts;
    fill($("#summary"),
      h("div", { class: "summary-top" }, badge(r.status), bar(r.progress, "Progress")),
      h("div", { class: "summary-grid" },
        stat("Images done", `${c.succeeded + c.failed} / ${c.images}`), stat("Succeeded", c.succeeded), stat("Failed", c.failed),
        stat("Products", c.products), stat("Output", transformText(r.transform, r.quality)),
        stat("Uploaded", when(r.created_at)), stat("Finished", when(r.completed_at))));
    // The link works only once the CSV exists (a keyboard ignores the disabled look).
    const download = $("#download");
    // Its path on this origin: the public URL may name the host another way.
    if (FINAL.has(r.status)) download.setAttribute("href", new URL(r.output_csv_url).pathname);
    else download.removeAttribute("href");
    download.setAttribute("aria-disabled", FINAL.has(r.status) ? "false" : "true");
  }

  function figure(caption, src, alt, placeholder) {
    return h("figure", {}, h("figcaption", {}, caption),
      src ? h("img", { class: "thumb", src, alt, loading: "lazy", onerror: (e) => e.target.replaceWith(h("div", { class: "thumb empty" }, "Could not be loaded")) })
        : h("div", { class: "thumb empty" }, placeholder));
  }
  function imageCard(product, img) {
    const name = `${product.product_name}, image ${img.position + 1}`;
    const after = img.status === "pending" ? "Working…" : "No output";
    const meta = [];
    if (img.width && img.height) meta.push(h("span", { class: "dims" }, `${img.width}×${img.height}`));
    if (img.input_bytes != null || img.output_bytes != null) meta.push(h("span", { class: "sizes" }, `${bytes(img.input_bytes)} → ${bytes(img.output_bytes)}`));
    const saved = saving(img.input_bytes, img.output_bytes);
    if (saved) meta.push(h("span", { class: img.output_bytes > img.input_bytes ? "saving grew" : "saving", title: "Output size against the original" }, saved));
    return h("div", { class: `image ${img.status}`, "data-position": img.position },
      h("div", { class: "pair" },
        figure("Before", img.input_url, `Original: ${name}`, ""),
        figure("After", img.output_url, `Compressed: ${name}`, after)),
      h("div", { class: "meta" }, badge(img.status), meta),
      img.error ? h("div", { class: "error" }, img.error) : null,
      h("div", { class: "url", title: img.input_url }, img.input_url));
  }
  // A reset supersedes any page still loading, so that no product is shown twice.
  let generation = 0;
  async function products(reset) {
    if (reset) { generation++; shown = 0; }
    const mine = generation;
    const more = $("#more-products");
    more.disabled = true;
    try {
      const page = await api(`${base}/products?offset=${shown}&limit=${pageSize}`);
      if (mine !== generation) return;
      if (reset) fill($("#products"));
      shown += page.items.length;
      $("#products-total").textContent = `${page.total} in all`;
      $("#products").append(...page.items.map((p) => h("article", { class: "product" },
        h("h3", {}, p.product_name, h("span", { class: "muted" }, ` · S. No. ${p.serial_number}`)),
        h("div", { class: "images" }, p.images.map((img) => imageCard(p, img))))));
      more.hidden = shown >= page.total;
    } catch (err) {
      toast(err.message);
    } finally {
      if (mine === generation) more.disabled = false;
    }
  }
  $("#more-products").addEventListener("click", () => products(false));

  async function webhook() {
    const box = $("#webhook");
    let d;
    try {
      d = await api(`${base}/webhook`);
    } catch (err) {
      $("#redeliver").hidden = true;
      const why = err.status !== 404 ? err.message
        : webhookUrl ? "The webhook is sent once the request has finished." : "No webhook URL was given with this upload.";
      fill(box, h("p", { class: "muted" }, why));
      return null;
    }
    $("#redeliver").hidden = !FINAL.has(status);
    fill(box,
      h("p", {}, badge(d.status), " ", h("span", { class: "mono" }, d.url),
        d.next_attempt_at ? h("span", { class: "muted" }, ` · next attempt ${when(d.next_attempt_at)}`) : null),
      d.attempts.length
        ? h("div", { class: "table-wrap" }, h("table", { id: "attempts" },
            h("thead", {}, h("tr", {}, ["#", "When", "Answer", "Time"].map((t) => h("th", { scope: "col" }, t)))),
            h("tbody", {}, d.attempts.map((a) => h("tr", {},
              h("td", { class: "num" }, a.number), h("td", {}, when(a.attempted_at)),
              h("td", {}, a.status_code ? h("span", { class: `badge ${a.status_code < 300 ? "succeeded" : "failed"}` }, a.status_code) : h("span", { class: "error" }, a.error ?? "no answer")),
              h("td", { class: "num" }, `${a.duration_ms} ms`))))))
        : h("p", { class: "muted" }, "No attempt yet."));
    return d;
  }
  // The call goes out just after the request finishes, and a retry may follow: the box is
  // refreshed until the delivery has an outcome (for at most a few minutes).
  async function watchWebhook() {
    for (let i = 0; i < 120; i++) {
      const d = await webhook();
      if (!d || d.status !== "pending") return;
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
  $("#redeliver").addEventListener("click", async () => {
    const button = $("#redeliver");
    button.disabled = true;
    try {
      const before = (await webhook())?.attempts.length ?? 0;
      await api(`${base}/webhook/redeliver`, { method: "POST" });
      toast("Redelivery queued");
      for (let i = 0; i < 30; i++) {
        await new Promise((r) => setTimeout(r, 1000));
        const d = await webhook();
        if ((d?.attempts.length ?? 0) > before) break;
      }
      watchWebhook();
    } catch (err) {
      toast(err.message);
    } finally {
      button.disabled = false;
    }
  });

  (async () => {
    let r;
    try {
      r = await api(base);
    } catch (err) {
      fill($("#summary"), h("div", { class: "alert error", role: "alert" }, err.message));
      return;
    }
    summary(r);
    products(true);
    if (FINAL.has(r.status)) { watchWebhook(); return; }
    webhook();
    follow(`${base}/events`, (now, finished) => {
      summary(now);
      if (finished) { products(true); watchWebhook(); }
    });
  })();
}

// ---- Single images -----------------------------------------------------------------------------

function imagesPage() {
  const form = $("#job-form");
  let shownOriginal = null;
  dropZone($("#image-drop"), $("#image-file"), $("#image-name"));

  async function list() {
    try {
      const page = await api("/api/v1/jobs?limit=20");
      if (!page.items.length) { fill($("#jobs-list"), h("p", { class: "empty-state" }, "No images yet.")); return; }
      fill($("#jobs-list"), h("table", {},
        h("thead", {}, h("tr", {}, ["Job", "Status", "Result", "Saving", "Submitted"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, page.items.map((j) => h("tr", {},
          h("td", { class: "id-link", title: j.job_id }, j.job_id.slice(0, 8) + "…"),
          h("td", {}, badge(j.status)),
          h("td", { class: "num" }, j.result ? h("a", { href: `/api/v1/jobs/${j.job_id}/result` }, `${j.result.width}×${j.result.height} ${j.result.format.toUpperCase()} · ${bytes(j.result.bytes)}`) : (j.error ?? "–")),
          h("td", { class: "num saving" }, j.result ? saving(j.result.input_bytes, j.result.bytes) : ""),
          h("td", {}, when(j.created_at)))))));
    } catch (err) {
      fill($("#jobs-list"), h("div", { class: "alert error", role: "alert" }, err.message));
    }
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const file = $("#image-file").files[0];
    const out = $("#job-result");
    if (!file) { fill(out, h("div", { class: "alert error", role: "alert" }, "Choose an image first.")); return; }
    const body = new FormData();
    body.append("file", file);
    for (const [k, v] of optionFields(form, ["quality", "width", "height", "fit", "format"])) body.append(k, v);
    $("#job-button").disabled = true;
    try {
      const job = await api("/api/v1/jobs", { method: "POST", body });
      if (shownOriginal) URL.revokeObjectURL(shownOriginal);
      const original = shownOriginal = URL.createObjectURL(file);
      const result = h("figure", { class: "result" }, h("figcaption", {}, "Result"), h("p", { class: "muted" }, "Processing…"));
      fill(out, h("div", { class: "result-pair" },
        h("figure", {}, h("figcaption", {}, `Original · ${bytes(file.size)}`), h("img", { src: original, alt: "The image sent" })), result));
      follow(`/api/v1/jobs/${job.job_id}/events`, (now, finished) => {
        if (!finished) return;
        if (now.status === "succeeded") {
          const r = now.result;
          fill(result, h("figcaption", {}, `Result · ${r.width}×${r.height} ${r.format.toUpperCase()} · ${bytes(r.bytes)} `, h("span", { class: "saving" }, saving(r.input_bytes, r.bytes))),
            h("img", { src: `/api/v1/jobs/${job.job_id}/result`, alt: "The processed image" }));
        } else {
          fill(result, h("figcaption", {}, "Result"), h("div", { class: "alert error", role: "alert" }, now.error ?? "the job failed"));
        }
        list();
      });
      list();
    } catch (err) {
      fill(out, problemBlock(err));
    } finally {
      $("#job-button").disabled = false;
    }
  });
  list();
}

// ---- Settings ----------------------------------------------------------------------------------

function settingsPage() {
  async function keys() {
    try {
      const list = await api("/api/v1/api-keys");
      if (!list.items.length) { fill($("#keys"), h("p", { class: "empty-state" }, "No API keys yet.")); return; }
      fill($("#keys"), h("table", { id: "key-table" },
        h("thead", {}, h("tr", {}, ["Name", "Key", "Created", "Last used", ""].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, list.items.map((k) => h("tr", {},
          h("td", {}, k.name), h("td", { class: "mono" }, `${k.prefix}…`), h("td", {}, when(k.created_at)),
          h("td", {}, k.last_used_at ? when(k.last_used_at) : "never"),
          h("td", {}, h("button", { type: "button", class: "danger", "aria-label": `Revoke key ${k.name}`, onclick: () => revoke(k) }, "Revoke")))))));
    } catch (err) {
      fill($("#keys"), h("div", { class: "alert error", role: "alert" }, err.message));
    }
  }
  async function revoke(k) {
    if (!confirm(`Revoke the key “${k.name}”? Calls made with it will be refused.`)) return;
    try { await api(`/api/v1/api-keys/${k.id}`, { method: "DELETE" }); toast(`Revoked “${k.name}”`); keys(); } catch (err) { toast(err.message); }
  }
  $("#key-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = $("#key-name").value.trim();
    try {
      const made = await api("/api/v1/api-keys", { method: "POST", json: { name } });
      // The clipboard is only there on https or localhost; elsewhere the key is selected instead.
      const copy = h("button", { type: "button", onclick: async () => {
        try {
          if (!navigator.clipboard) throw new Error("no clipboard");
          await navigator.clipboard.writeText(made.key);
          toast("Copied");
        } catch {
          getSelection().selectAllChildren($("#new-key-value"));
          toast("Press Ctrl+C (⌘C) to copy the selected key");
        }
      } }, "Copy");
      fill($("#new-key"), h("div", { class: "new-key" }, h("strong", {}, `Your new key “${made.name}”`),
        h("code", { id: "new-key-value" }, made.key), h("span", { class: "muted" }, "It is shown this once. "), copy));
      $("#key-name").value = "";
      keys();
    } catch (err) {
      fill($("#new-key"), h("div", { class: "alert error", role: "alert" }, err.message));
    }
  });

  let revealed = false;
  function showSecret(s) {
    $("#secret").textContent = s.secret;
    $("#reveal").textContent = "Hide";
    revealed = true;
    $("#secret-note").textContent = s.previous_secret_expires_at
      ? `The previous secret also signs until ${when(s.previous_secret_expires_at)}.` : `Made ${when(s.created_at)}.`;
  }
  $("#reveal").addEventListener("click", async () => {
    if (revealed) {
      $("#secret").textContent = "whsec_••••••••••••••••••••••••";
      $("#reveal").textContent = "Reveal";
      revealed = false;
      return;
    }
    try { showSecret(await api("/api/v1/webhook-secret")); } catch (err) { toast(err.message); }
  });
  $("#rotate").addEventListener("click", async () => {
    if (!confirm("Rotate the webhook secret? The current one keeps signing beside the new one for a while.")) return;
    try { showSecret(await api("/api/v1/webhook-secret/rotate", { method: "POST" })); toast("Secret rotated"); } catch (err) { toast(err.message); }
  });
  keys();
}

const pages = { requests: requestsPage, request: requestPage, images: imagesPage, settings: settingsPage };
pages[document.body.dataset.page]?.();
