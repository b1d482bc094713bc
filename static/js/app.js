// Timesync's few lines of script: open a dialog htmx has just loaded, close it once its
// Confirm request is sent. No inline scripts anywhere (CSP-friendly).
document.addEventListener("htmx:afterSwap", (event) => {
  const dialog = event.detail.target.querySelector && event.detail.target.querySelector("dialog");
  if (dialog && !dialog.open) {
    dialog.showModal();
  }
});
document.addEventListener("htmx:beforeRequest", (event) => {
  const trigger = event.detail.elt;
  if (trigger && trigger.hasAttribute("data-close-dialog")) {
    const dialog = trigger.closest("dialog");
    if (dialog) {
      dialog.close();
    }
  }
});
document.addEventListener("close", (event) => {
  // A closed dialog leaves the page: the next click loads a fresh preview.
  if (event.target.tagName === "DIALOG" && event.target.id === "sync-dialog") {
    event.target.remove();
  }
}, true);
// A date picker marked data-autosubmit sends its form as soon as a day is picked.
document.addEventListener("change", (event) => {
  if (event.target.matches && event.target.matches("[data-autosubmit]") && event.target.form) {
    event.target.form.requestSubmit();
  }
});
// Sync Dashboard cells: one listener for every cell of the grid (a grid has thousands), so a
// cell carries no hx-* attributes. The preview's address comes from the table
// (data-preview-url), the row (data-project) and the column's header (data-date).
document.addEventListener("click", (event) => {
  const body = event.target.closest && event.target.closest(".sync-grid button.cell-body");
  const table = body && body.closest("table[data-preview-url]");
  if (!table) {
    return;
  }
  const header = table.tHead.rows[0].cells[body.closest("td").cellIndex];
  const query = new URLSearchParams({
    project: body.closest("tr").dataset.project, date: header.dataset.date,
  });
  htmx.ajax("GET", `${table.dataset.previewUrl}?${query}`, {
    source: body, target: table.dataset.dialog, swap: "innerHTML",
  });
});
// A dash's title is the same for every empty cell: the table carries it once.
document.addEventListener("mouseover", (event) => {
  const body = event.target.closest && event.target.closest(".sync-grid .cell-none .cell-body");
  if (body && !body.title) {
    body.title = body.closest("table").dataset.noneTitle;
  }
});
