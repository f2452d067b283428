// API keys (issue 17, journey 7; admin only): the keys there are, a new one whose secret is
// shown this once, and revoking one after a second, deliberate click.
import { request, session } from "../api.js";
import { field, h, showErrors, when } from "./dom.js";

const SCOPES = ["read", "write", "admin", "secrets"];
const PAGE = 1000;

class Keys extends HTMLElement {
  async connectedCallback() {
    this.replaceChildren(h("h1", { text: "Keys" }), h("p", { role: "status", text: "Loading…" }));
    let keys;
    try {
      keys = await allKeys();
    } catch (error) {
      this.refused(error);
      return;
    }
    this.list = h("section", { "aria-labelledby": "keys-list-title" });
    // The secret lives only in this node, never in storage: a reload, or "Done", and it is gone.
    this.created = h("div", {});
    this.replaceChildren(h("h1", { text: "Keys" }), this.list, this.created, this.creating());
    this.show(keys);
  }

  refused(error) {
    const text = error.status === 403
      ? "Only an admin key can manage keys. Sign in with one to see, create or revoke keys."
      : `${error.problem?.title || "Error"}: ${error.message}`;
    this.replaceChildren(h("h1", { text: "Keys" }), h("p", { class: "form-error", role: "alert", text }));
  }

  async reload() {
    try {
      this.show(await allKeys());
    } catch (error) {
      this.refused(error);
    }
  }

  show(keys) {
    const title = h("h2", { id: "keys-list-title", text: "Existing keys" });
    if (!keys.length) {
      this.list.replaceChildren(title, h("p", { class: "muted", text: "No keys." }));
      return;
    }
    this.list.replaceChildren(title, h("table", { "aria-labelledby": "keys-list-title" },
      h("thead", {}, h("tr", {},
        ["Name", "Scopes", "Applications", "Created", "Expires", "Actions"].map((text) => h("th", { scope: "col", text })))),
      h("tbody", {}, keys.map((key) => this.row(key)))));
  }

  row(key) {
    // Its prefix is all there is to tell the key this tab signed in with.
    const own = session.key?.startsWith(key.prefix);
    const actions = h("td", {});
    const row = h("tr", {},
      h("td", {}, key.name, own ? h("span", { class: "muted", text: " (this session)" }) : null),
      [key.scopes.join(", "), key.application_ids ? key.application_ids.join(", ") : "all",
        when(key.created_at), key.expires_at ? when(key.expires_at) : "never"].map((text) => h("td", { text })),
      actions);
    this.askToRevoke(key, actions);
    return row;
  }

  askToRevoke(key, cell, focus = false) {
    const revoke = h("button", { type: "button", text: "Revoke", "aria-label": `Revoke ${key.name}`,
      onclick: () => this.confirmRevoke(key, cell) });
    cell.replaceChildren(revoke);
    if (focus) revoke.focus();
  }

  // A second click, on a button that says what it will do: a revoked key cannot be restored.
  confirmRevoke(key, cell) {
    const confirm = h("button", { type: "button", text: `Yes, revoke ${key.name}`,
      onclick: () => this.revoke(key, cell) });
    cell.replaceChildren(h("div", { class: "actions" },
      confirm,
      h("button", { type: "button", text: "Cancel", "aria-label": `Cancel revoking ${key.name}`,
        onclick: () => this.askToRevoke(key, cell, true) })));
    confirm.focus();
  }

  async revoke(key, cell) {
    try {
      await request("DELETE", `/api-keys/${encodeURIComponent(key.id)}`);
    } catch (error) {
      if (error.status !== 404) {  // already gone: as good as revoked
        cell.replaceChildren(h("p", { class: "form-error", role: "alert", text: `${error.problem?.title || "Error"}: ${error.message}` }));
        return;
      }
    }
    await this.reload();
    this.list.querySelector("h2").setAttribute("tabindex", "-1");
    this.list.querySelector("h2").focus();  // the row (and its button) are gone: keep the keyboard near
  }

  creating() {
    const name = h("input", { type: "text", required: true, maxlength: "256", autocomplete: "off" });
    const scopes = SCOPES.map((scope) => h("input", { type: "checkbox", name: "scope", value: scope, checked: scope === "read" }));
    const applications = h("input", { type: "text", autocomplete: "off", spellcheck: "false" });
    const expires = h("input", { type: "datetime-local", step: "1" });
    const form = h("form", { class: "card", "aria-labelledby": "create-key-title" },
      h("h2", { id: "create-key-title", text: "New key" }),
      field("key-name", "Name", name),
      h("fieldset", { id: "key-scopes", "aria-describedby": "key-scopes-error" },
        h("legend", { text: "Scopes" }),
        h("div", { class: "inline" }, scopes.map((box) => h("label", {}, box, ` ${box.value}`))),
        h("p", { class: "field-error", id: "key-scopes-error", role: "alert" })),
      field("key-applications", "Application ids (comma-separated; empty: all applications)", applications),
      field("key-expires", "Expires (optional)", expires),
      h("p", { class: "form-error", role: "alert" }),
      h("button", { type: "submit", text: "Create key" }));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = { name: name.value.trim(), scopes: scopes.filter((box) => box.checked).map((box) => box.value) };
      const ids = applications.value.split(",").map((id) => id.trim()).filter(Boolean);
      if (ids.length) body.application_ids = ids;
      if (expires.value) body.expires_at = new Date(expires.value).toISOString();
      for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
      if (!body.scopes.length) {  // said plainly here, rather than as the API's "list should have at least 1 item"
        showErrors(form, { fieldErrors: { scopes: "Choose at least one scope." } }, { scopes: "key-scopes" });
        return;
      }
      let created;
      try {
        ({ data: created } = await request("POST", "/api-keys", { body }));
      } catch (error) {
        showErrors(form, byRoot(error), {
          name: "key-name", scopes: "key-scopes", application_ids: "key-applications", expires_at: "key-expires",
        });
        return;
      }
      form.reset();
      for (const node of form.querySelectorAll(".field-error, .form-error")) node.textContent = "";
      this.showSecret(created);
      await this.reload();
    });
    return form;
  }

  showSecret(created) {
    const secret = h("input", { type: "text", readonly: true, value: created.key, spellcheck: "false", autocomplete: "off" });
    const copied = h("p", { role: "status", class: "hint" });
    const copy = h("button", { type: "button", text: "Copy", onclick: async () => {
      try {
        await navigator.clipboard.writeText(created.key);
        copied.textContent = "Copied";
      } catch {
        // No clipboard (permission refused, or not a secure context): the text is still there.
        copied.textContent = "Select and copy it";
        secret.focus();
        secret.select();
      }
    } });
    this.created.replaceChildren(h("section", { class: "card", "aria-labelledby": "new-key-title" },
      h("h2", { id: "new-key-title", text: `Key “${created.name}” created` }),
      h("p", { class: "notice", text: "Copy the secret now: it will not be shown again." }),
      field("new-key-secret", "Secret", secret),
      h("div", { class: "actions" }, copy,
        h("button", { type: "button", text: "Done", onclick: () => this.created.replaceChildren() })),
      copied));
    secret.focus();
    secret.select();
  }
}

// Every key, page after page (a Link header names the next).
async function allKeys() {
  const keys = [];
  let path = `/api-keys?limit=${PAGE}`;
  while (path) {
    const { data, next } = await request("GET", path);
    keys.push(...data);
    path = next;
  }
  return keys;
}

// The API names an item ("scopes[1]", "application_ids[0]"); the form has one control per list.
function byRoot(error) {
  const fieldErrors = {};
  for (const [name, message] of Object.entries(error.fieldErrors || {})) {
    const root = name.split(/[.[]/)[0];
    fieldErrors[root] ??= name === root ? message : `${name}: ${message}`;
  }
  return { fieldErrors, problem: error.problem, message: error.message };
}

customElements.define("cs-keys", Keys);
