// One flag (issue 17, journey 4): what it serves and to whom, a kill switch, a two-variant
// rollout's slider, and a condition added to its first rule. Every change is a merge patch
// guarded by If-Match, so that another operator's change meanwhile is never overwritten.
import { request } from "../api.js";
import { field, h, showErrors } from "./dom.js";

export const OPERATORS = [
  "in", "not_in", "contains", "starts_with", "ends_with", "gt", "gte", "lt", "lte",
  "semver_eq", "semver_gt", "semver_lt", "before", "after", "exists",
];
const NUMERIC = new Set(["gt", "gte", "lt", "lte"]);
const BUCKETS = 10000;

class Flag extends HTMLElement {
  async connectedCallback() {
    this.replaceChildren(h("p", { role: "status", text: "Loading…" }));
    await this.load();
  }

  get path() {
    return `/applications/${encodeURIComponent(this.applicationId)}/flags/${encodeURIComponent(this.flagKey)}`;
  }

  async load(note = "") {
    // A re-render replaces every node: keep the keyboard where it was.
    const focused = this.contains(document.activeElement) ? document.activeElement.id : "";
    try {
      const { data } = await request("GET", this.path);
      this.flag = data;
      this.render(data, note);
      if (focused) this.querySelector(`#${CSS.escape(focused)}`)?.focus();
    } catch (error) {
      this.replaceChildren(
        h("h1", { text: this.flagKey }),
        h("p", { class: "form-error", role: "alert", text: `${error.problem?.title || "Error"}: ${error.message}` }),
      );
    }
  }

  render(flag, note) {
    this.replaceChildren(h("div", {},
      h("nav", { "aria-label": "Breadcrumb" },
        h("a", { href: `#/applications/${encodeURIComponent(flag.application_id ?? this.applicationId)}`, text: "Application" })),
      h("h1", { text: flag.key }),
      flag.description ? h("p", { class: "muted", text: flag.description }) : null,
      h("p", { class: "muted", id: "flag-version", role: "status", text: `Version ${flag.version}${note ? ` · ${note}` : ""}` }),
      this.killSwitch(flag),
      this.variants(flag),
      this.rules(flag),
      this.addingCondition(flag),
    ));
  }

  killSwitch(flag) {
    // Not field(): a checkbox reads best beside its label, not under it.
    const enabled = h("input", { type: "checkbox", id: "flag-enabled", checked: flag.enabled, "aria-describedby": "kill-switch-state" });
    const form = h("form", { class: "card", "aria-labelledby": "kill-switch-title" },
      h("h2", { id: "kill-switch-title", text: "Kill switch" }),
      h("label", {}, enabled, " Enabled"),
      h("p", { class: "hint", id: "kill-switch-state", text: flag.enabled
        ? `On: the rules below decide. Off, everyone would get “${flag.off_variant}”.`
        : `Off: everyone gets “${flag.off_variant}”.` }),
      h("div", { class: "form-error", role: "alert" }));
    form.addEventListener("submit", (event) => event.preventDefault());
    enabled.addEventListener("change", async () => {
      const saved = await this.patch({ enabled: enabled.checked }, form);
      if (!saved) enabled.checked = !enabled.checked;
    });
    return form;
  }

  variants(flag) {
    return h("section", { "aria-labelledby": "variants-title" },
      h("h2", { id: "variants-title", text: "Variants" }),
      h("table", {},
        h("thead", {}, h("tr", {}, ["Variant", "Value", "Serves"].map((text) => h("th", { scope: "col", text })))),
        h("tbody", {}, Object.entries(flag.variants).map(([name, value]) => h("tr", {},
          [name, JSON.stringify(value), serves(flag, name)].map((text) => h("td", { text })))))));
  }

  rules(flag) {
    const rules = flag.rules || [];
    return h("section", { "aria-labelledby": "rules-title" },
      h("h2", { id: "rules-title", text: "Rules" }),
      rules.length
        ? h("ol", { class: "list" }, rules.map((rule, index) => h("li", {},
            h("p", { text: describe(rule) }),
            isTwoWay(rule.rollout) ? this.rolloutSlider(rule, index) : null)))
        : h("p", { class: "muted", text: `No rules: everyone gets “${flag.default_variant}” while enabled.` }),
      rules.length ? h("p", { class: "muted", text: `No rule holds: “${flag.default_variant}”.` }) : null);
  }

  // A two-variant rollout on a slider in whole percent; the second variant takes the rest.
  rolloutSlider(rule, index) {
    const [first, second] = rule.rollout;
    const id = `rollout-${index}`;
    const slider = h("input", { type: "range", min: "0", max: "100", step: "1", value: String(Math.round(first.weight / 100)) });
    const shown = h("output", { for: id, id: `${id}-shown` });
    const show = () => { shown.textContent = `${first.variant} ${slider.value} %, ${second.variant} ${100 - slider.value} %`; };
    slider.addEventListener("input", show);
    show();
    const form = h("form", { class: "card", "aria-label": `Rollout of rule ${index + 1}` },
      field(id, `Rollout of ${first.variant} (%), rule ${index + 1}`, slider),
      h("p", {}, shown),
      h("div", { class: "form-error", role: "alert" }),
      h("button", { type: "submit", text: "Save rollout" }));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const weight = Number(slider.value) * 100;
      const rules = copyRules(this.flag.rules);
      rules[index].rollout = [{ ...rules[index].rollout[0], weight }, { ...rules[index].rollout[1], weight: BUCKETS - weight }];
      await this.patch({ rules }, form, { [`rules[${index}].rollout`]: id });
    });
    return form;
  }

  addingCondition(flag) {
    const attribute = h("input", { type: "text", required: true, maxlength: "256", autocomplete: "off" });
    const operator = h("select", {}, OPERATORS.map((name) => h("option", { value: name, text: name })));
    const values = h("input", { type: "text", autocomplete: "off" });
    const target = flag.rules?.length ? "the first rule" : `a new rule serving “${Object.keys(flag.variants)[0]}”`;
    const form = h("form", { class: "card wide", "aria-labelledby": "add-condition-title" },
      h("h2", { id: "add-condition-title", text: "Add a condition" }),
      h("p", { class: "hint", text: `Added to ${target}.` }),
      h("div", { class: "inline" },
        field("condition-attribute", "Attribute", attribute),
        field("condition-operator", "Operator", operator),
        field("condition-values", "Values (comma-separated)", values)),
      h("div", { class: "form-error", role: "alert" }),
      h("button", { type: "submit", text: "Add condition" }));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const condition = { attribute: attribute.value.trim(), operator: operator.value, values: parseValues(values.value, operator.value) };
      const rules = copyRules(this.flag.rules);
      if (rules.length) rules[0].conditions = [...(rules[0].conditions || []), condition];
      else rules.push({ conditions: [condition], variant: Object.keys(this.flag.variants)[0] });
      // The API names a field by its path in the body (its location, "body", apart).
      const at = `rules[0].conditions[${rules[0].conditions.length - 1}]`;
      await this.patch({ rules }, form, {
        [`${at}.attribute`]: "condition-attribute",
        [`${at}.operator`]: "condition-operator",
        [`${at}.values`]: "condition-values",
      });
    });
    return form;
  }

  // One change, guarded by the version shown; then the flag as it now is. False when refused.
  async patch(body, form, fields = {}) {
    try {
      await request("PATCH", this.path, {
        body,
        headers: { "Content-Type": "application/merge-patch+json", "If-Match": `"${this.flag.version}"` },
      });
    } catch (error) {
      if (error.status === 412) this.conflict(form);
      else showErrors(form, error, fields);
      return false;
    }
    await this.load("saved");
    return true;
  }

  // Someone changed the flag meanwhile: saving over it would undo their change unseen.
  conflict(form) {
    for (const node of form.querySelectorAll(".field-error")) node.textContent = "";
    form.querySelector(".form-error").replaceChildren(
      h("p", { text: "The flag was changed by someone else meanwhile; nothing was saved. Reload to see their change." }),
      h("button", { type: "button", text: "Reload", onclick: () => this.load() }));
  }
}

function isTwoWay(rollout) {
  return Array.isArray(rollout) && rollout.length === 2;
}

function serves(flag, name) {
  const roles = [];
  if (name === flag.default_variant) roles.push("default");
  if (name === flag.off_variant) roles.push("when off");
  return roles.join(", ");
}

// A rule as a sentence: "If country in NZ, AU and plan in pro: on 10 %, off 90 % (by targeting_key)".
export function describe(rule) {
  const conditions = (rule.conditions || []).map((c) =>
    c.operator === "exists" ? `${c.attribute} exists` : `${c.attribute} ${c.operator} ${c.values.map(text).join(", ")}`);
  const when = conditions.length ? `If ${conditions.join(" and ")}` : "Everyone";
  const then = rule.rollout
    ? `${rule.rollout.map((s) => `${s.variant} ${s.weight / 100} %`).join(", ")} (by ${rule.stickiness || "targeting_key"})`
    : `serve ${rule.variant}`;
  return `${when}: ${then}`;
}

function text(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

// Numbers for the numeric comparisons (as typed otherwise, so that the API names a bad one).
export function parseValues(typed, operator) {
  const values = typed.split(",").map((v) => v.trim()).filter((v) => v !== "");
  if (!NUMERIC.has(operator)) return values;
  return values.map((v) => (Number.isFinite(Number(v)) ? Number(v) : v));
}

// The rules as the API takes them back: members read as null are left out, not sent as null.
function copyRules(rules) {
  return (rules || []).map((rule) => Object.fromEntries(
    Object.entries(structuredClone(rule)).filter(([, value]) => value !== null)));
}

customElements.define("cs-flag", Flag);
