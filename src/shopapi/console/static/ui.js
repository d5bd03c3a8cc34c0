// Building blocks of every page. Elements are made with createElement and text nodes only:
// nothing the API returns is ever parsed as HTML (the page's policy forbids it anyway).

/** `h("p", {class: "x", onclick: f}, "text", child)`: an element with its children. */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") element.className = value;
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, String(value));
  }
  return append(element, ...children);
}

/** Add children (text, elements, arrays of them) to `parent`; null and false add nothing. */
export function append(parent, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

let ids = 0;
/** A document-unique id for `for`/`aria-describedby` pairs. */
export function uid(name) {
  ids += 1;
  return `${name}-${ids}`;
}

/**
 * A labelled input (or textarea) with an optional hint and a place for its errors.
 * Returns `{element, input, showErrors(messages), clear()}`.
 */
export function field({ name, label, value = "", hint, required = false, multiline = false, ...attrs }) {
  const id = uid(name);
  const hintId = hint ? `${id}-hint` : null;
  const errorId = `${id}-error`;
  const input = h(multiline ? "textarea" : "input", {
    id,
    name,
    type: multiline ? null : attrs.type || "text",
    "aria-describedby": [hintId, errorId].filter(Boolean).join(" "),
    "aria-required": required ? "true" : null,
    ...attrs,
  });
  input.value = value ?? "";
  const error = h("p", { class: "field-error", id: errorId, hidden: true });
  const element = h(
    "div",
    { class: "field" },
    h("label", { for: id }, label, required ? h("span", { class: "required" }, " (required)") : null),
    hint ? h("p", { class: "hint", id: hintId }, hint) : null,
    error,
    input,
  );
  return {
    element,
    input,
    showErrors(messages) {
      error.replaceChildren(...messages.map((m, i) => (i ? [h("br"), m] : m)).flat());
      error.hidden = false;
      input.setAttribute("aria-invalid", "true");
    },
    clear() {
      error.replaceChildren();
      error.hidden = true;
      input.removeAttribute("aria-invalid");
    },
  };
}

/**
 * Checkboxes under one legend, shaped like a `field` so a refusal lands beside them.
 * `options` are `[value, label]` pairs (a label may be elements); `checked(value)` ticks
 * one at first. Returns `{element, input, values(), showErrors(messages), clear()}`.
 */
export function checkboxes({ name, legend, options, checked = () => false, class: className = null }) {
  const id = uid(name);
  const error = h("p", { class: "field-error", id: `${id}-error`, hidden: true });
  const boxes = options.map(([value, label], i) => {
    const box = h("input", { type: "checkbox", id: `${id}-${i}`, name, value, checked: checked(value) });
    return h("div", { class: "choice" }, box, h("label", { for: `${id}-${i}` }, label));
  });
  const element = h("fieldset", { class: className, "aria-describedby": `${id}-error` },
    h("legend", {}, legend), error, boxes);
  const inputs = () => [...element.querySelectorAll("input")];
  return {
    element,
    get input() {
      return inputs()[0];
    },
    values: () => inputs().filter((b) => b.checked).map((b) => b.value),
    showErrors(messages) {
      error.replaceChildren(messages.join(" "));
      error.hidden = false;
    },
    clear() {
      error.replaceChildren();
      error.hidden = true;
    },
  };
}

/** The box at the top of a form that says what went wrong (role=alert: read out at once). */
export function alertBox() {
  const box = h("div", { class: "alert", role: "alert", tabindex: "-1", hidden: true });
  return {
    element: box,
    show(...children) {
      box.replaceChildren();
      append(box, ...children);
      box.hidden = false;
    },
    clear() {
      box.replaceChildren();
      box.hidden = true;
    },
  };
}

/**
 * Show an API error: its `detail` in the alert box (with `extra` after it), each of its
 * validation `errors` beside the field it names (those naming no field go in the box).
 * Focus moves to the first field in error, else to the box.
 */
export function showProblem(error, alert, fields = {}, ...extra) {
  for (const f of Object.values(fields)) f.clear();
  const others = [];
  let first = null;
  for (const [name, messages] of Object.entries(error.errors || {})) {
    const list = Array.isArray(messages) ? messages.map(String) : [String(messages)];
    if (fields[name]) {
      fields[name].showErrors(list);
      first = first || fields[name].input;
    } else {
      others.push(h("li", {}, name === "_body" ? list.join(" ") : `${name}: ${list.join(" ")}`));
    }
  }
  const wait = error.status === 429 || error.status === 503 ? error.headers?.get?.("Retry-After") : null;
  alert.show(
    h("p", {}, error.message),
    others.length ? h("ul", {}, others) : null,
    wait ? h("p", {}, `Try again in ${wait} seconds.`) : null,
    extra,
  );
  (first || alert.element).focus();
}

/**
 * A form sent with its button (`danger`: a red one), `buttons` beside it. On submit,
 * `send()` runs while the button is busy, once the last refusal is cleared; a refusal it
 * throws is shown beside the `fields` it names, `extra(error)` after it, and then
 * `failed(error)` runs. Returns `{form, alert, submit}`.
 */
export function sendingForm({ submitLabel, danger = false, fields = {}, content = [], buttons = [], send, extra = () => null, failed = () => {} }) {
  const alert = alertBox();
  const submit = h("button", { type: "submit", class: danger ? "danger" : null }, submitLabel);
  const form = h("form", { method: "post", novalidate: true }, alert.element, content, h("div", { class: "actions" }, submit, buttons));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, async () => {
      clearProblem(alert, fields);
      try {
        await send();
      } catch (error) {
        showProblem(error, alert, fields, extra(error));
        failed(error);
      }
    });
  });
  return { form, alert, submit };
}

/** Clear what `showProblem` showed. */
export function clearProblem(alert, fields = {}) {
  alert.clear();
  for (const f of Object.values(fields)) f.clear();
}

/** A button that shows it is busy and cannot be pressed twice while `task` runs. */
export async function busy(button, task) {
  if (button.getAttribute("aria-disabled") === "true") return undefined;
  button.setAttribute("aria-disabled", "true");
  button.classList.add("busy");
  try {
    return await task();
  } finally {
    button.removeAttribute("aria-disabled");
    button.classList.remove("busy");
  }
}

/** An API time (`2026-11-25T18:49:23Z`) as the same instant, easier to read. */
export function time(iso) {
  if (!iso) return "";
  const text = String(iso).replace("T", " ").replace(/Z$/, " UTC");
  return h("time", { datetime: iso }, text);
}

/** A value of the API as text: null is "none"; prices stay the strings the API sent. */
export function show(value) {
  if (value === null || value === undefined) return h("span", { class: "none" }, "none");
  return String(value);
}

/** A message (text and elements) for the next page drawn, e.g. "Product deleted." */
let pending = null;
export function flash(...message) {
  pending = message;
}
export function takeFlash() {
  const message = pending;
  pending = null;
  return message ? h("p", { class: "flash", role: "status" }, ...message) : null;
}

/** A page heading the router can move focus to. */
export function heading(text) {
  return h("h1", { tabindex: "-1" }, text);
}

/**
 * The answer of a page's request, or null once its refusal is shown in `alert` (with the
 * `fields` it names, and `extra(error)` after it). A page left meanwhile stops here too:
 * the AbortError goes on to the router.
 */
export async function load(request, alert, { fields = {}, extra = () => null } = {}) {
  try {
    return await request;
  } catch (error) {
    if (error.name === "AbortError") throw error;
    showProblem(error, alert, fields, extra(error));
    return null;
  }
}

/** Label and value pairs as a description list; a null pair shows nothing. */
export function details(...pairs) {
  return h("dl", { class: "details" },
    pairs.map((pair) => (pair ? [h("dt", {}, pair[0]), h("dd", {}, pair[1])] : null)));
}

/** A table cell; `label` names it where narrow screens show each row as a card. */
export function cell(label, ...content) {
  return h("td", { "data-label": label }, ...content);
}

/** A cell of a number, set flush right (prices stay the strings the API sent). */
export function numberCell(label, value) {
  return h("td", { "data-label": label, class: "number" }, String(value));
}

/**
 * A table in its scrolling frame. `columns` are header texts, elements, or
 * `{label, class}`; `rows` are its `tr` elements.
 */
export function table({ class: className, caption, columns, rows }) {
  const header = (column) =>
    column?.label === undefined
      ? h("th", { scope: "col" }, column)
      : h("th", { scope: "col", class: column.class }, column.label);
  return h("div", { class: "table-wrap" }, h("table", { class: className },
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, columns.map(header))),
    h("tbody", {}, rows)));
}

/**
 * The links between the pages of a list the API hands out by cursor, and `beside` them
 * (a page size): null when there is nothing to show. `hashFor(cursor)` is a page's
 * address (null: the first page's); `previous`, the previous page's, when it is known.
 */
export function pager({ cursor, nextCursor, hashFor, previous = null, labels = {}, beside = null }) {
  const { first = "First page", next = "Next page" } = labels;
  const links = [];
  if (cursor) links.push(h("a", { href: hashFor(null) }, first));
  if (cursor && previous) links.push(h("a", { href: previous, rel: "prev" }, "Previous page"));
  if (nextCursor) links.push(h("a", { href: hashFor(nextCursor), rel: "next" }, next));
  if (!links.length && !beside) return null;
  return h("div", { class: "pager" },
    links.length ? h("nav", { "aria-label": "Pages" }, h("ul", {}, links.map((a) => h("li", {}, a)))) : null,
    beside);
}

/**
 * A list's filter by status: a select of `statuses` ({value: label}, and "every status"),
 * `value` chosen, and **Show**, which calls `choose(value)` ("" for every status).
 */
export function statusFilter(statuses, value, choose) {
  const id = uid("status");
  const choice = h("select", { id, name: "status" }, h("option", { value: "" }, "every status"),
    Object.entries(statuses).map(([v, label]) => h("option", { value: v, selected: v === value }, label)));
  const form = h("form", { method: "get", novalidate: true, class: "filters" },
    h("div", { class: "field" }, h("label", { for: id }, "Status"), choice),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "secondary" }, "Show")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    choose(choice.value);
  });
  return form;
}
