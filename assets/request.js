// imgbatch dashboard, one request: its summary, products and webhook delivery.
"use strict";

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

requestPage();
