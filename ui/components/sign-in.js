// Sign in by pasting an API key; it is tried before it is kept, and a refusal says why.
import { request, session } from "../api.js";
import { field, h } from "./dom.js";

class SignIn extends HTMLElement {
  connectedCallback() {
    const key = h("input", { type: "password", name: "key", autocomplete: "off", required: true, spellcheck: "false" });
    const reason = session.reason;
    const form = h(
      "form",
      { class: "card", "aria-labelledby": "sign-in-title", onsubmit: (event) => this.submit(event, key) },
      h("h1", { id: "sign-in-title", text: "Sign in" }),
      reason ? h("p", { class: "notice", role: "status", text: `Signed out: ${reason}` }) : null,
      field("sign-in-key", "API key", key),
      h("p", { class: "hint", text: "Kept in this tab only, until you sign out or close it." }),
      h("button", { type: "submit", text: "Sign in" }),
    );
    this.replaceChildren(form);
    key.focus();
  }

  async submit(event, input) {
    event.preventDefault();
    const key = input.value.trim();
    const error = this.querySelector("#sign-in-key-error");
    try {
      await request("GET", "/applications?limit=1", { key });
    } catch (refused) {
      error.textContent = refused.status === 401 ? `This key is not accepted: ${refused.message}` : refused.message;
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    const admin = await request("GET", "/api-keys?limit=1", { key }).then(() => true, () => false);
    session.signIn(key, { admin });
    window.dispatchEvent(new CustomEvent("cs-session"));
  }
}

customElements.define("cs-sign-in", SignIn);
