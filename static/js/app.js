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
