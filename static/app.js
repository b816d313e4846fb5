/* SmartMoving dashboard: small behaviours. No inline scripts anywhere (CSP), so everything lives here. */
(function () {
  "use strict";

  function toast(message, kind) {
    var box = document.getElementById("toasts");
    if (!box || !message) { return; }
    var el = document.createElement("div");
    el.className = "toast toast-" + (kind || "info");
    el.setAttribute("role", kind === "error" || kind === "warning" ? "alert" : "status");
    el.textContent = message;
    box.appendChild(el);
    setTimeout(function () { el.classList.add("is-leaving"); }, 5000);
    setTimeout(function () { el.remove(); }, 5600);
  }
  window.dashboardToast = toast;

  function messageFrom(html) {
    if (!html) { return ""; }
    var doc = new DOMParser().parseFromString(html, "text/html");
    var el = doc.querySelector("[data-toast], [data-error-message]");
    return (el ? el.textContent : "").trim();
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) { return; }
    if (target.closest("[data-print]")) { window.print(); return; }
    var dismiss = target.closest("[data-dismiss]");
    if (dismiss && dismiss.parentElement) { dismiss.parentElement.remove(); }
  });

  /* Forms with data-confirm ask first (e.g. disabling a user). */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  /* <input data-autosubmit> submits its form on change (the date picker). */
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (input instanceof HTMLInputElement && input.hasAttribute("data-autosubmit") && input.form && input.value) {
      input.form.requestSubmit();
    }
  });

  /* htmx does not swap 4xx/5xx answers: show their message as a toast instead of failing silently. */
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var kind = xhr.status === 409 ? "warning" : "error";
    var text = messageFrom(xhr.responseText) || ("The server answered " + xhr.status + ". Please reload the page.");
    toast(text, kind);
  });
  document.addEventListener("htmx:sendError", function () {
    toast("Cannot reach the server. The board will retry on its own.", "warning");
  });

  /* <time data-relative> shows "4 min ago" and keeps it current: the server may answer
     an unchanged board with 304, so the text cannot depend on when it was rendered. */
  function ago(iso) {
    var minutes = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 60000));
    if (isNaN(minutes)) { return null; }
    if (minutes < 1) { return "just now"; }
    if (minutes < 60) { return minutes + " min ago"; }
    if (minutes < 48 * 60) {
      var hours = Math.floor(minutes / 60), rest = minutes % 60;
      return rest ? hours + " h " + rest + " min ago" : hours + " h ago";
    }
    return Math.floor(minutes / 1440) + " days ago";
  }
  function refreshRelativeTimes() {
    document.querySelectorAll("time[data-relative]").forEach(function (el) {
      var text = ago(el.getAttribute("datetime"));
      if (text) { el.textContent = text; }
    });
  }
  document.addEventListener("htmx:afterSwap", refreshRelativeTimes);
  document.addEventListener("DOMContentLoaded", refreshRelativeTimes);
  setInterval(refreshRelativeTimes, 30000);

  /* Flash messages fade after a while, except warnings and errors. */
  setTimeout(function () {
    document.querySelectorAll(".flashes .alert-success, .flashes .alert-info").forEach(function (el) {
      el.classList.add("is-leaving");
    });
  }, 6000);
})();
