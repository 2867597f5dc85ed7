// imgbatch dashboard, what every page shares; each page's own script comes after this one. Every
// page reads and changes its data through the JSON API (/api/v1) with the session cookie; a change
// also carries the page's CSRF token. Elements are built with createElement and textContent only:
// product names and URLs come from merchants' files.
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

/** The body of an upload: the file chosen in `input` and the options of `form` named in
 *  `names`, those filled in; null (with `missing` shown in `out`) when no file is chosen. */
function uploadBody(form, input, names, out, missing) {
  const file = input.files[0];
  if (!file) { fill(out, h("div", { class: "alert error", role: "alert" }, missing)); return null; }
  const body = new FormData();
  body.append("file", file);
  for (const name of names) {
    const value = form.elements[name]?.value.trim();
    if (value) body.append(name, value);
  }
  return body;
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
