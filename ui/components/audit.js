// The audit log: every change, newest first, filtered by who, what and when, a page at a time.
import { request } from "../api.js";
import { field, h, when } from "./dom.js";

const PAGE = 20;
const ACTIONS = [
  "application.created", "application.updated", "application.deleted",
  "configuration.created", "configuration.updated", "configuration.patched", "configuration.rolled_back",
  "configuration.deleted", "configuration.revealed", "configuration.scrubbed",
  "flag.created", "flag.updated", "flag.patched", "flag.rolled_back", "flag.deleted",
  "schema.created", "schema.versioned", "schema.deleted", "api_key.created", "api_key.revoked",
];

class Audit extends HTMLElement {
  connectedCallback() {
    const actor = h("input", { type: "text", maxlength: "256" });
    const action = h("select", {}, h("option", { value: "", text: "Any" }), ACTIONS.map((a) => h("option", { value: a, text: a })));
    const since = h("input", { type: "datetime-local", step: "1" });
    const until = h("input", { type: "datetime-local", step: "1" });
    this.results = h("div", { "aria-live": "polite" });
    this.pages = [];
    const form = h("form", { class: "card wide", "aria-labelledby": "audit-filter-title" },
      h("h2", { id: "audit-filter-title", text: "Filter" }),
      h("div", { class: "inline" },
        field("audit-actor", "Actor", actor), field("audit-action", "Action", action),
        field("audit-since", "Since", since), field("audit-until", "Until", until)),
      h("button", { type: "submit", text: "Apply" }));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const query = new URLSearchParams({ limit: String(PAGE) });
      if (actor.value.trim()) query.set("actor", actor.value.trim());
      if (action.value) query.set("action", action.value);
      if (since.value) query.set("since", new Date(since.value).toISOString());
      if (until.value) query.set("until", new Date(until.value).toISOString());
      this.pages = [];
      this.show(`/audit-events?${query}`);
    });
    this.replaceChildren(h("h1", { text: "Audit log" }), form, this.results);
    this.show(`/audit-events?limit=${PAGE}`);
  }

  async show(path) {
    try {
      const { data, next } = await request("GET", path);
      this.pages.push(path);
      const previous = this.pages.length > 1 ? this.pages[this.pages.length - 2] : null;
      this.results.replaceChildren(
        data.length ? table(data) : h("p", { class: "muted", text: "No events match." }),
        h("div", { class: "actions" },
          previous ? h("button", { type: "button", text: "Previous page", onclick: () => {
            this.pages.splice(-2);
            this.show(previous);
          } }) : null,
          next ? h("button", { type: "button", text: "Next page", onclick: () => this.show(next) }) : null),
      );
    } catch (error) {
      this.results.replaceChildren(h("p", { class: "form-error", role: "alert", text: `${error.problem?.title || "Error"}: ${error.message}` }));
    }
  }
}

function table(events) {
  return h("table", { "aria-label": "Events" },
    h("thead", {}, h("tr", {}, ["When", "Actor", "Action", "What", "Version"].map((text) => h("th", { scope: "col", text })))),
    h("tbody", {}, events.map((e) => {
      const image = e.after || e.before || {};
      return h("tr", {}, [when(e.occurred_at), e.actor, e.action, image.name ?? image.key ?? e.entity_id,
        e.version == null ? "" : String(e.version)].map((text) => h("td", { text })));
    })));
}

customElements.define("cs-audit", Audit);
