// One configuration: edit its JSON (kept as typed, syntax errors shown as you type, a bound
// schema's errors by path before saving), its history, a diff of any two versions, rollback.
import { request } from "../api.js";
import { follow } from "../events.js";
import { field, h, when } from "./dom.js";

class Configuration extends HTMLElement {
  async connectedCallback() {
    this.replaceChildren(h("p", { role: "status", text: "Loading…" }));
    await this.load();
    if (this.current && this.isConnected) {
      // Another operator's change shows within moments, through the change feed.
      this.unfollow = follow(`application_id=${encodeURIComponent(this.current.application_id)}`, (change) =>
        this.changed(change));
    }
  }

  disconnectedCallback() {
    this.unfollow?.();
  }

  // A change to this configuration made elsewhere: shown at once, unless it would clobber an
  // edit not yet saved, which is kept, with a word of the newer version.
  async changed(change) {
    if (change.entity_id !== this.current?.id || !(change.version > this.current.version)) return;
    if (change.action === "configuration.deleted") {
      this.notice(`Deleted by ${change.actor}.`);
      return;
    }
    const editor = this.querySelector("#config-editor");
    if (editor && editor.value !== this.loadedText) {
      this.notice(`Version ${change.version} was saved by ${change.actor}; your unsaved edit is kept.`,
        h("button", { type: "button", text: "Load theirs", onclick: () => this.load() }));
      return;
    }
    await this.load();
    this.notice(`Version ${change.version} was saved by ${change.actor}.`);
  }

  notice(text, ...actions) {
    const area = this.querySelector("#live-notice");
    area?.replaceChildren(h("span", { text }), ...actions);
  }

  get path() {
    return `/configurations/${encodeURIComponent(this.configurationId)}`;
  }

  async load() {
    try {
      const [current, versions] = await Promise.all([
        request("GET", this.path),
        request("GET", `${this.path}/versions?limit=100`),
      ]);
      this.current = current.data;
      this.render(current.data, versions.data);
    } catch (error) {
      this.replaceChildren(
        h("h1", { text: "Configuration" }),
        h("p", { class: "form-error", role: "alert", text: `${error.problem?.title || "Error"}: ${error.message}` }),
      );
    }
  }

  render(configuration, versions) {
    const editor = h("textarea", { rows: "14", spellcheck: "false", class: "json" });
    editor.value = this.loadedText = JSON.stringify(configuration.config, null, 2);
    const syntax = h("p", { class: "field-error", id: "config-editor-syntax", role: "alert" });
    // Live, so that what a check or a save found is read out; its items stay list items.
    const problems = h("ul", { class: "problems", "aria-label": "Problems", "aria-live": "assertive" });
    const save = h("button", { type: "submit", text: "Save" });
    const validate = h("button", { type: "button", text: "Validate", onclick: () => this.validate(editor, problems) });
    editor.addEventListener("input", () => {
      const parsed = parse(editor.value);
      syntax.textContent = parsed.error || "";
      editor.setAttribute("aria-invalid", parsed.error ? "true" : "false");
      save.disabled = validate.disabled = Boolean(parsed.error);
    });
    const form = h(
      "form",
      { class: "card wide", "aria-labelledby": "edit-title", onsubmit: (event) => this.save(event, editor, problems) },
      h("h2", { id: "edit-title", text: "Edit" }),
      field("config-editor", "Config (JSON)", editor),
      syntax,
      problems,
      h("div", { class: "actions" }, configuration.schema ? validate : null, save),
    );
    editor.setAttribute("aria-describedby", "config-editor-syntax");

    this.replaceChildren(h("div", {},
      h("nav", { "aria-label": "Breadcrumb" },
        h("a", { href: `#/applications/${encodeURIComponent(configuration.application_id)}`, text: "Application" })),
      h("h1", { text: configuration.name }),
      h("p", { class: "muted", id: "configuration-version", text: `Version ${configuration.version}` +
        (configuration.schema ? ` · schema ${configuration.schema.name}` : "") }),
      h("p", { class: "notice", id: "live-notice", role: "status" }),
      form,
      this.history(versions),
    ));
  }

  history(versions) {
    const options = () => versions.map((v) => h("option", { value: String(v.version), text: `Version ${v.version}` }));
    const from = h("select", {}, options());
    const to = h("select", {}, options());
    if (versions.length > 1) from.value = String(versions[1].version);
    const diff = h("div", { class: "diff", "aria-live": "polite" });
    const back = h("select", {}, options());
    const comment = h("input", { type: "text", maxlength: "1024" });
    const rollbackError = h("p", { class: "form-error", role: "alert" });
    return h("section", { "aria-labelledby": "history-title" },
      h("h2", { id: "history-title", text: "History" }),
      h("table", {},
        h("thead", {}, h("tr", {}, ["Version", "Change", "Who", "When", "Note"].map((text) => h("th", { scope: "col", text })))),
        h("tbody", {}, versions.map((v) => h("tr", {},
          [String(v.version), v.change.replace("_", " "), v.actor, when(v.created_at), v.note || ""].map((text) => h("td", { text })))))),
      h("form", { class: "card wide", "aria-labelledby": "compare-title", onsubmit: (event) => this.compare(event, from, to, diff) },
        h("h3", { id: "compare-title", text: "Compare versions" }),
        h("div", { class: "inline" }, field("diff-from", "From", from), field("diff-to", "To", to)),
        h("button", { type: "submit", text: "Compare" }),
        diff),
      h("form", { class: "card wide", "aria-labelledby": "rollback-title", onsubmit: (event) => this.rollback(event, back, comment, rollbackError) },
        h("h3", { id: "rollback-title", text: "Roll back" }),
        h("div", { class: "inline" }, field("rollback-version", "To version", back), field("rollback-comment", "Comment", comment)),
        rollbackError,
        h("button", { type: "submit", text: "Roll back" })),
    );
  }

  async validate(editor, problems) {
    const parsed = parse(editor.value);
    if (parsed.error) return;
    try {
      const { data } = await request("POST", `${this.path}/validate`, { body: { config: parsed.value } });
      show(problems, data.valid ? [] : data.errors, data.valid ? "Valid: the schema passes it." : null);
    } catch (error) {
      show(problems, problemsOf(error));
    }
  }

  async save(event, editor, problems, overwrite = false) {
    event?.preventDefault();
    const parsed = parse(editor.value);
    if (parsed.error) return;
    const version = overwrite ? overwrite : this.current.version;
    try {
      await request("PUT", this.path, { body: { config: parsed.value }, headers: { "If-Match": `"${version}"` } });
      await this.load();
      this.querySelector("#configuration-version")?.append(" · saved");
    } catch (error) {
      if (error.status === 412) return this.conflict(editor, problems);
      show(problems, problemsOf(error));
    }
  }

  // Someone else saved meanwhile: show theirs beside yours, and let the operator choose.
  async conflict(editor, problems) {
    const { data: theirs } = await request("GET", this.path);
    const reload = h("button", { type: "button", text: "Discard mine and reload", onclick: () => this.load() });
    const overwrite = h("button", { type: "button", text: "Overwrite theirs",
      onclick: () => this.save(null, editor, problems, theirs.version) });
    problems.replaceChildren(h("li", {},
      h("p", { text: `Version ${theirs.version} was saved by someone else meanwhile. Theirs:` }),
      h("pre", { class: "json", text: JSON.stringify(theirs.config, null, 2) }),
      h("div", { class: "actions" }, reload, overwrite)));
  }

  async compare(event, from, to, target) {
    event.preventDefault();
    try {
      const { data } = await request("GET", `${this.path}/diff?from=${from.value}&to=${to.value}`);
      target.replaceChildren(data.patch.length
        ? h("ul", { "aria-label": `Changes from version ${data.from} to ${data.to}` }, data.patch.map((op) =>
          h("li", { class: `op-${op.op}`, text: `${op.op} ${op.path}${"value" in op ? " = " + JSON.stringify(op.value) : ""}` })))
        : h("p", { text: "No differences." }));
    } catch (error) {
      target.replaceChildren(h("p", { class: "form-error", role: "alert", text: error.message }));
    }
  }

  async rollback(event, version, comment, errorArea) {
    event.preventDefault();
    const body = { version: Number(version.value) };
    if (comment.value) body.comment = comment.value;
    try {
      await request("POST", `${this.path}/rollback`, { body, headers: { "If-Match": `"${this.current.version}"` } });
      await this.load();
    } catch (error) {
      errorArea.textContent = `${error.problem?.title || "Error"}: ${error.message}`;
    }
  }
}

function parse(text) {
  try {
    const value = JSON.parse(text);
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      return { error: "The config must be a JSON object: { … }" };
    }
    return { value };
  } catch (error) {
    return { error: `Not JSON: ${error.message}` };
  }
}

// The API's reasons, each at its place: a schema's by JSON Pointer, ours by field.
function problemsOf(error) {
  const listed = error.problem?.errors || [];
  if (!listed.length) return [{ path: "", message: `${error.problem?.title || "Error"}: ${error.message}` }];
  return listed.map((e) => ({ path: e.path ?? e.field ?? "", message: e.message }));
}

function show(list, problems, success = null) {
  list.replaceChildren(...problems.map((p) =>
    h("li", {}, p.path ? h("code", { text: p.path }) : null, p.path ? ": " : null, p.message)));
  if (success) list.append(h("li", { class: "success", text: success }));
}

customElements.define("cs-configuration", Configuration);
