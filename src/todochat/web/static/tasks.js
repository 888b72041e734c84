// The Tasks region: the user's tasks, ticked done or deleted in place.

import { h, iconButton } from "./dom.js";

const PAGE = 100;

export class Tasks {
  constructor(api, notices, elements) {
    this.api = api;
    this.notices = notices;
    this.list = elements.list;
    this.summary = elements.summary;
    this.more = elements.more;
    this.shown = 0;
    this.more.addEventListener("click", () => this.load(this.shown));
  }

  /** Read the list again from the start. */
  async refresh() {
    await this.load(0);
  }

  async load(offset) {
    let tasks;
    try {
      tasks = await this.api.get(`/tasks?status=all&sort=id&limit=${PAGE}&offset=${offset}`);
    } catch (error) {
      this.notices.error(error, "Could not load your tasks");
      return;
    }
    const items = tasks.map((task) => this.item(task));
    if (offset === 0) this.list.replaceChildren(...items);
    else this.list.append(...items);
    this.shown = offset + tasks.length;
    this.more.hidden = tasks.length < PAGE;
    this.describe();
  }

  describe() {
    const all = this.list.children.length;
    const done = this.list.querySelectorAll(".task.done").length;
    this.summary.textContent = all === 0 ? "No tasks yet. Ask the assistant to add one." : `${all - done} to do, ${done} done`;
  }

  item(task) {
    const id = `task-${task.id}`;
    const box = h("input", { type: "checkbox", id, checked: task.completed });
    const item = h(
      "li",
      { class: task.completed ? "task done" : "task" },
      box,
      h("label", { for: id }, h("span", { class: "number" }, `#${task.id}`), " ", task.title),
      iconButton("delete", `Delete task ${task.id}: ${task.title}`, () => this.remove(task, item), "danger"),
    );
    box.addEventListener("change", () => this.tick(task, box, item));
    return item;
  }

  async tick(task, box, item) {
    const done = box.checked;
    item.classList.toggle("done", done);
    this.describe();
    try {
      if (done) await this.api.json("PATCH", `/tasks/${task.id}/complete`);
      else await this.api.json("PATCH", `/tasks/${task.id}`, { body: { completed: false } });
    } catch (error) {
      box.checked = !done;
      item.classList.toggle("done", !done);
      this.describe();
      this.notices.error(error, `Could not change “${task.title}”`);
    }
  }

  async remove(task, item) {
    const next = item.nextElementSibling ?? item.previousElementSibling;
    try {
      await this.api.json("DELETE", `/tasks/${task.id}`);
    } catch (error) {
      this.notices.error(error, `Could not delete “${task.title}”`);
      return;
    }
    item.remove();
    this.shown -= 1;
    this.describe();
    // Keep the keyboard where it was: on the neighbouring task, or the region itself.
    (next?.querySelector("input") ?? this.list.closest("section")).focus();
    this.notices.show(`Deleted task ${task.id}, “${task.title}”.`);
  }
}
