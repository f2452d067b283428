// Small helpers to build elements from nodes, never from markup: text is always text.
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "text") element.textContent = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return element;
}

// A labelled control, with the place its error is shown (aria-describedby ties them).
export function field(id, label, control) {
  control.id = id;
  const error = h("p", { class: "field-error", id: `${id}-error`, role: "alert" });
  control.setAttribute("aria-describedby", error.id);
  return h("div", { class: "field" }, h("label", { for: id, text: label }), control, error);
}

export function showErrors(form, error, fields) {
  for (const node of form.querySelectorAll(".field-error")) node.textContent = "";
  const general = form.querySelector(".form-error");
  const byField = error.fieldErrors || {};
  let placed = false;
  for (const [name, id] of Object.entries(fields)) {
    if (byField[name]) {
      form.querySelector(`#${id}-error`).textContent = byField[name];
      form.querySelector(`#${id}`).setAttribute("aria-invalid", "true");
      placed = true;
    }
  }
  if (general) general.textContent = placed ? "" : `${error.problem?.title || "Error"}: ${error.message}`;
}

export function when(iso) {
  return new Date(iso).toLocaleString();
}
