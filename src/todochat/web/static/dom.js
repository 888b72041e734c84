// Building elements. Text always goes in as text, never as markup.

/**
 * An element: `h("li", {class: "task", onclick: run}, child, "text")`.
 * Props named `on…` add listeners; `true` sets an empty attribute; null, undefined and false skip.
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return element;
}

/** An icon-only button: its accessible name is `label`. */
export function iconButton(icon, label, onclick, extraClass = "") {
  return h("button", { type: "button", class: `icon-button ${extraClass}`.trim(), "data-icon": icon, "aria-label": label, title: label, onclick });
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const STEPS = [
  [60, "second"],
  [60, "minute"],
  [24, "hour"],
  [7, "day"],
];

/** "just now", "5 minutes ago", "yesterday", or a date for anything older than a week. */
export function ago(isoTime) {
  const then = new Date(isoTime);
  let amount = (then.getTime() - Date.now()) / 1000;
  if (Math.abs(amount) < 45) return "just now";
  for (const [size, unit] of STEPS) {
    if (Math.abs(amount) < size) return relative.format(Math.round(amount), unit);
    amount /= size;
  }
  return then.toLocaleDateString();
}
