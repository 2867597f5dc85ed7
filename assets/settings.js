// imgbatch dashboard, settings: API keys and the webhook signing secret.
"use strict";

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

settingsPage();
