// The applications: search them by name, open one, create one.
import { request } from "../api.js";
import { field, h, showErrors } from "./dom.js";

class Applications extends HTMLElement {
  async connectedCallback() {
    const search = h("input", { type: "search", name: "q", placeholder: "Filter by name" });
    search.addEventListener("input", () => this.filter(search.value));
    this.list = h("ul", { class: "list", "aria-label": "Applications" });
    const name = h("input", { type: "text", name: "name", required: true, maxlength: "256" });
    const comments = h("input", { type: "text", name: "comments", maxlength: "1024" });
    this.form = h(
      "form",
      { class: "card", "aria-labelledby": "create-application-title", onsubmit: (event) => this.create(event, name, comments) },
      h("h2", { id: "create-application-title", text: "New application" }),
      field("application-name", "Name", name),
      field("application-comments", "Comments", comments),
      h("p", { class: "form-error", role: "alert" }),
      h("button", { type: "submit", text: "Create application" }),
    );
    this.replaceChildren(
      h("h1", { text: "Applications" }),
      field("application-search", "Search applications", search),
      this.list,
      this.form,
    );
    await this.load();
  }

  async load() {
    try {
      const { data } = await request("GET", "/applications?limit=1000");
      this.applications = data;
      this.filter("");
    } catch (error) {
      this.list.replaceChildren(h("li", { class: "form-error", role: "alert", text: error.message }));
    }
  }

  filter(text) {
    const wanted = text.trim().toLowerCase();
    const shown = this.applications.filter((app) => app.name.toLowerCase().includes(wanted));
    this.list.replaceChildren(
      ...shown.map((app) =>
        h("li", {}, h("a", { href: `#/applications/${encodeURIComponent(app.id)}`, text: app.name }),
          app.comments ? h("span", { class: "muted", text: ` — ${app.comments}` }) : null),
      ),
    );
    if (!shown.length) this.list.append(h("li", { class: "muted", text: "No applications match." }));
  }

  async create(event, name, comments) {
    event.preventDefault();
    const body = { name: name.value };
    if (comments.value) body.comments = comments.value;
    try {
      const { data } = await request("POST", "/applications", { body });
      location.hash = `#/applications/${encodeURIComponent(data.id)}`;
    } catch (error) {
      showErrors(this.form, error, { name: "application-name", comments: "application-comments" });
    }
  }
}

customElements.define("cs-applications", Applications);
