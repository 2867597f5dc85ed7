// imgbatch dashboard, the requests page: the upload form and the list, followed live.
"use strict";

function requestsPage() {
  const limit = 20;
  let offset = 0;
  let streams = [];

  const form = $("#upload-form");
  dropZone($("#drop"), $("#file"), $("#file-name"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const result = $("#upload-result");
    const options = ["quality", "width", "height", "fit", "format", "webhook_url"];
    const body = uploadBody(form, $("#file"), options, result, "Choose a CSV file first.");
    if (!body) return;
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

requestsPage();
