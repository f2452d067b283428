// The admin page: a sign-in, then views chosen by the URL's hash (#/applications/…).
import { session } from "./api.js";
import { h } from "./components/dom.js";
import "./components/sign-in.js";
import "./components/applications.js";
import "./components/application.js";
import "./components/audit.js";
import "./components/keys.js";
import "./components/configuration.js";
import "./components/flag.js";

const ROUTES = [
  [/^#?\/?$/, () => document.createElement("cs-applications")],
  [/^#\/applications\/?$/, () => document.createElement("cs-applications")],
  [/^#\/applications\/([^/]+)$/, (id) => Object.assign(document.createElement("cs-application"), { applicationId: id })],
  [/^#\/audit$/, () => document.createElement("cs-audit")],
  [/^#\/keys$/, () => document.createElement("cs-keys")],
  [/^#\/configurations\/([^/]+)$/, (id) => Object.assign(document.createElement("cs-configuration"), { configurationId: id })],
  [/^#\/applications\/([^/]+)\/flags\/([^/]+)$/, (id, key) =>
    Object.assign(document.createElement("cs-flag"), { applicationId: id, flagKey: key })],
];

class App extends HTMLElement {
  connectedCallback() {
    this.render = this.render.bind(this);
    window.addEventListener("hashchange", this.render);
    window.addEventListener("cs-session", this.render);
    this.render();
  }

  render() {
    this.replaceChildren();
    const header = document.createElement("header");
    const title = document.createElement("a");
    title.href = "#/applications";
    title.className = "brand";
    title.textContent = "Config Service";
    header.append(title);
    if (session.key) {
      header.append(h("nav", { "aria-label": "Sections" },
        h("a", { href: "#/applications", text: "Applications" }), " ", h("a", { href: "#/audit", text: "Audit log" }),
        // Keys are an admin's: a key without the scope is not shown the way there.
        session.admin ? [" ", h("a", { href: "#/keys", text: "Keys" })] : null));
      const out = document.createElement("button");
      out.type = "button";
      out.textContent = "Sign out";
      out.addEventListener("click", () => session.signOut());
      header.append(out);
    }
    const main = document.createElement("main");
    main.id = "main";
    this.append(header, main);
    if (!session.key) {
      main.append(document.createElement("cs-sign-in"));
      return;
    }
    for (const [pattern, make] of ROUTES) {
      const match = location.hash.match(pattern);
      if (match) {
        main.append(make(...match.slice(1).map(decodeURIComponent)));
        return;
      }
    }
    const missing = document.createElement("p");
    missing.textContent = "No such page.";
    main.append(missing);
  }
}

customElements.define("cs-app", App);
