// imgbatch dashboard, single images: one image through the jobs API, shown beside the original.
"use strict";

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
    const body = uploadBody(form, $("#image-file"), ["quality", "width", "height", "fit", "format"], out, "Choose an image first.");
    if (!body) return;
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

imagesPage();
