// The Conversations navigation: most recent first; open, start, rename, delete with undo.

import { ago, h, iconButton } from "./dom.js";

const PAGE = 30;

/** The name a conversation goes by. */
export function titleOf(conversation) {
  return conversation.title || `Conversation ${conversation.id}`;
}

export class Conversations {
  /** `events.open(conversation)` and `events.deleted(id)` tell the chat what happened. */
  constructor(api, notices, elements, events) {
    this.api = api;
    this.notices = notices;
    this.list = elements.list;
    this.more = elements.more;
    this.newButton = elements.newButton;
    this.events = events;
    this.current = null;
    this.cursor = null;
    this.known = new Map();
    this.more.addEventListener("click", () => this.load(this.cursor));
  }

  /** Read the list again from the most recent. */
  async refresh() {
    await this.load(null);
  }

  async load(cursor) {
    const query = new URLSearchParams({ limit: String(PAGE) });
    if (cursor) query.set("cursor", cursor);
    let page;
    try {
      page = await this.api.get(`/conversations?${query}`);
    } catch (error) {
      this.notices.error(error, "Could not load your conversations");
      return;
    }
    if (!cursor) this.known.clear();
    for (const conversation of page.items) this.known.set(conversation.id, conversation);
    const items = page.items.map((conversation) => this.item(conversation));
    if (cursor) this.list.append(...items);
    else this.list.replaceChildren(...items);
    this.cursor = page.next_cursor;
    this.more.hidden = !page.next_cursor;
  }

  /** The conversation numbered `id`, if listed. */
  get(id) {
    return this.known.get(id) ?? null;
  }

  /** Mark conversation `id` (or none) as the one open. */
  select(id) {
    this.current = id;
    for (const button of this.list.querySelectorAll(".open")) {
      if (Number(button.dataset.id) === id) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    }
  }

  item(conversation) {
    const title = titleOf(conversation);
    const open = h(
      "button",
      { type: "button", class: "open", "data-id": conversation.id, "aria-current": conversation.id === this.current ? "true" : null, onclick: () => this.events.open(conversation) },
      h("span", { class: "title" }, title),
      h("span", { class: "when" }, ago(conversation.updated_at)),
    );
    const item = h(
      "li",
      { class: "conversation" },
      open,
      iconButton("rename", `Rename “${title}”`, () => this.rename(conversation, item)),
      iconButton("delete", `Delete “${title}”`, () => this.remove(conversation), "danger"),
    );
    return item;
  }

  rename(conversation, item) {
    const original = [...item.childNodes];
    const input = h("input", { type: "text", value: conversation.title ?? "", maxlength: 255, "aria-label": "New title", required: true });
    const restore = (focusTarget) => {
      item.replaceChildren(...original);
      focusTarget?.focus();
    };
    const save = async (event) => {
      event.preventDefault();
      const title = input.value.trim();
      if (!title) return restore(original[1]);
      try {
        const renamed = await this.api.json("PATCH", `/conversations/${conversation.id}`, { body: { title } });
        this.known.set(renamed.id, renamed);
        const fresh = this.item(renamed);
        item.replaceWith(fresh);
        fresh.querySelector(".open").focus();
        this.events.renamed(renamed);
      } catch (error) {
        this.notices.error(error, "Could not rename the conversation");
      }
    };
    const form = h(
      "form",
      { class: "rename", onsubmit: save },
      input,
      h("button", { type: "submit", class: "primary" }, "Save"),
    );
    input.addEventListener("keydown", (event) => {
      if (event.key === "Escape") restore(original[1]);
    });
    item.replaceChildren(form);
    input.select();
  }

  async remove(conversation) {
    const title = titleOf(conversation);
    try {
      await this.api.json("DELETE", `/conversations/${conversation.id}`);
    } catch (error) {
      this.notices.error(error, `Could not delete “${title}”`);
      return;
    }
    const wasOpen = conversation.id === this.current;
    await this.refresh();
    (this.list.querySelector(".open") ?? this.newButton).focus();
    this.events.deleted(conversation.id);
    this.notices.show(`Deleted “${title}”.`, {
      action: { label: "Undo", run: () => this.restore(conversation, wasOpen) },
    });
  }

  async restore(conversation, reopen) {
    try {
      const restored = await this.api.json("POST", `/conversations/${conversation.id}/restore`);
      await this.refresh();
      if (reopen) this.events.open(restored);
    } catch (error) {
      this.notices.error(error, `Could not bring back “${titleOf(conversation)}”`);
    }
  }
}
