// One application: its configurations, its flags and its recent audit events.
import { request } from "../api.js";
import { field, h, showErrors, when } from "./dom.js";

class Application extends HTMLElement {
  async connectedCallback() {
    this.replaceChildren(h("p", { role: "status", text: "Loading…" }));
    const id = encodeURIComponent(this.applicationId);
    try {
      const [app, configurations, flags, events] = await Promise.all([
        request("GET", `/applications/${id}`),
        request("GET", `/applications/${id}/configurations?limit=1000`),
        request("GET", `/applications/${id}/flags`),
        request("GET", `/audit-events?application_id=${id}&limit=10`),
      ]);
      this.render(app.data, configurations.data, flags.data, events.data);
    } catch (error) {
      this.replaceChildren(
        h("h1", { text: "Application" }),
        h("p", { class: "form-error", role: "alert", text: `${error.problem?.title || "Error"}: ${error.message}` }),
      );
    }
  }

  render(app, configurations, flags, events) {
    this.replaceChildren(h("div", {},
      h("nav", { "aria-label": "Breadcrumb" }, h("a", { href: "#/applications", text: "Applications" })),
      h("h1", { text: app.name }),
      app.comments ? h("p", { class: "muted", text: app.comments }) : null,
      section("Configurations", configurations.length
        ? table(["Name", "Version", "Updated"], configurations.map((c) =>
            [link(`#/configurations/${encodeURIComponent(c.id)}`, c.name), String(c.version), when(c.updated_at)]))
        : h("p", { class: "muted", text: "No configurations yet." }),
        this.creating(app)),
      section("Flags", flags.length
        ? table(["Key", "State", "Version"], flags.map((f) => [
            link(`#/applications/${encodeURIComponent(app.id)}/flags/${encodeURIComponent(f.key)}`, f.key),
            f.enabled ? "on" : "off", String(f.version)]))
        : h("p", { class: "muted", text: "No flags yet." })),
      section("Recent changes", events.length
        ? table(["When", "Who", "What"], events.map((e) => [when(e.occurred_at), e.actor, `${e.action} ${named(e)}`.trim()]))
        : h("p", { class: "muted", text: "No changes yet." })),
    ));
  }
}

// What an event changed, by the name (or a flag's key) in its images.
function named(event) {
  const image = event.after || event.before || {};
  return image.name ?? image.key ?? "";
}

Application.prototype.creating = function (app) {
  const name = h("input", { type: "text", required: true, maxlength: "256" });
  const form = h("form", { class: "card", "aria-labelledby": "create-configuration-title" },
    h("h3", { id: "create-configuration-title", text: "New configuration" }),
    field("configuration-name", "Configuration name", name),
    h("p", { class: "form-error", role: "alert" }),
    h("button", { type: "submit", text: "Create configuration" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const { data } = await request("POST", "/configurations", {
        body: { application_id: app.id, name: name.value, config: {} },
      });
      location.hash = `#/configurations/${encodeURIComponent(data.id)}`;
    } catch (error) {
      showErrors(form, error, { name: "configuration-name" });
    }
  });
  return form;
};

function link(href, text) {
  return h("a", { href, text });
}

function section(title, ...content) {
  const id = `section-${title.toLowerCase().replace(/\W+/g, "-")}`;
  return h("section", { "aria-labelledby": id }, h("h2", { id, text: title }), ...content);
}

function table(headings, rows) {
  return h(
    "table",
    {},
    h("thead", {}, h("tr", {}, headings.map((text) => h("th", { scope: "col", text })))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell) =>
      typeof cell === "string" ? h("td", { text: cell }) : h("td", {}, cell))))),
  );
}

customElements.define("cs-application", Application);
