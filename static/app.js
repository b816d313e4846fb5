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
    /* Demo mode's sign-in page: "Use" fills in a demo account (the password is public there). */
    var demo = target.closest("[data-demo-email]");
    if (demo) {
      document.querySelector("input[name=email]").value = demo.dataset.demoEmail;
      document.querySelector("input[name=password]").value = demo.dataset.demoPassword;
      document.querySelector(".auth-card button[type=submit]").focus();
      return;
    }
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

  /* <input data-autosubmit> submits its form on change (the date picker); so does <select data-autosubmit>
     (the roster's location), whose empty choice ("All my locations") is a choice too. The CSP refuses
     inline onchange handlers, so this is the only way a field submits itself. */
  document.addEventListener("change", function (event) {
    var input = event.target;
    var chosen = input instanceof HTMLSelectElement || (input instanceof HTMLInputElement && input.value);
    if (chosen && input.hasAttribute("data-autosubmit") && input.form) {
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

  /* Phone navigation: the menu button opens the main navigation (every page stays reachable at 390 px). */
  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element && event.target.closest("[data-menu]");
    if (!button) { return; }
    var bar = button.closest(".topbar");
    var open = !bar.classList.contains("is-open");
    bar.classList.toggle("is-open", open);
    button.setAttribute("aria-expanded", open ? "true" : "false");
  });

  /* The assign panel: a row's truck or crew cell (or a lane block, or a card's button) opens the
     inline form without leaving the board; the opener gets focus back when the panel closes. */
  var opener = null;
  var openOn = null;   // "crew": the panel opens on its "Find a person" box instead of the Truck select
  function panel() { return document.getElementById("assign-panel"); }
  function closePanel() {
    var box = panel();
    if (!box) { return; }
    box.classList.remove("is-open");
    box.innerHTML = "";
    restoreFocus();
  }
  function restoreFocus() {
    if (!opener) { return; }
    // The board may have been morphed meanwhile: find the opener again by its job.
    var target = opener.isConnected ? opener : null;
    if (!target && opener.dataset && opener.dataset.focusKey) {
      target = document.querySelector('[data-focus-key="' + opener.dataset.focusKey + '"]');
    }
    if (target) { target.focus(); }
  }
  document.addEventListener("click", function (event) {
    if (!(event.target instanceof Element)) { return; }
    var link = event.target.closest("a[data-assign]");
    var box = panel();
    if (link && box && window.htmx && !event.ctrlKey && !event.metaKey && !event.shiftKey) {
      event.preventDefault();
      opener = link;
      // The board's "c" key asks for the crew search (data-open-on); so does a click on a crew cell, except
      // by touch, where focusing a text box would raise the phone's keyboard over the list.
      openOn = link.dataset.openOn ||
        (link.getAttribute("data-assign-kind") === "crew" && event.pointerType !== "touch" ? "crew" : null);
      var row = link.closest("[data-job-id]");
      link.dataset.focusKey = (row ? row.getAttribute("data-job-id") : "") + ":" + (link.className || "");
      var back = window.location.pathname + window.location.search;
      var url = link.getAttribute("href") + (link.getAttribute("href").indexOf("?") < 0 ? "?" : "&") +
        "back=" + encodeURIComponent(back);
      box.classList.add("is-open");
      window.htmx.ajax("GET", url, { target: "#assign-panel", swap: "innerHTML" });
      return;
    }
    if (event.target.closest("[data-close-panel]")) { closePanel(); }
  });
  document.addEventListener("keydown", function (event) {
    var box = panel();
    if (event.key === "Escape" && box && box.classList.contains("is-open")) { closePanel(); }
  });
  /* After htmx's own [autofocus] (the Truck select), which it applies when the swap settles. */
  document.addEventListener("htmx:afterSettle", function (event) {
    var box = panel();
    if (!box || event.detail.target !== box || openOn !== "crew") { return; }
    openOn = null;   // once: a saved or refused form answers with its own focus
    var search = box.querySelector(".crew-search");
    if (search) { search.focus(); }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var box = panel();
    if (!box || event.detail.target !== box) { return; }
    var focus = box.querySelector("[autofocus]");
    if (focus) { focus.focus(); }
    if (box.querySelector("[data-saved-job]")) {
      // Saved: keep the confirmation a moment, and put focus back where the dispatcher was.
      restoreFocus();
      setTimeout(function () {
        if (box.querySelector("[data-saved-job]")) { box.classList.remove("is-open"); box.innerHTML = ""; }
      }, 4000);
    }
  });

  /* <input data-filter-list="#list"> hides the list's items whose data-name does not contain the text. */
  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!(input instanceof HTMLInputElement) || !input.dataset.filterList) { return; }
    var list = document.querySelector(input.dataset.filterList);
    var text = input.value.trim().toLowerCase();
    if (!list) { return; }
    list.querySelectorAll("li[data-name]").forEach(function (item) {
      item.hidden = text !== "" && item.getAttribute("data-name").indexOf(text) < 0;
    });
  });

  /* Enter in a search box filters or picks, never submits its form: with text typed, Enter
     ticks the first person still listed and clears the search for the next name. */
  document.addEventListener("keydown", function (event) {
    var input = event.target;
    if (event.key !== "Enter" || !(input instanceof HTMLInputElement) || !input.dataset.filterList) { return; }
    event.preventDefault();
    var list = document.querySelector(input.dataset.filterList);
    if (!list || input.value.trim() === "") { return; }
    var first = Array.prototype.find.call(list.querySelectorAll("li[data-name]"), function (item) { return !item.hidden; });
    var box = first && first.querySelector("input[type=checkbox]");
    if (!box) { return; }
    if (!box.checked) {
      box.checked = true;
      box.dispatchEvent(new Event("change", { bubbles: true }));   // the conflicts preview follows
    }
    input.value = "";
    input.dispatchEvent(new Event("input", { bubbles: true }));     // shows the whole list again
  });

  /* The assign panel's "Save anyway / Back" question: Back returns to the form (Save again). */
  document.addEventListener("click", function (event) {
    var back = event.target instanceof Element && event.target.closest("[data-conflict-back]");
    if (!back) { return; }
    var form = back.closest("form");
    var question = back.closest("[data-conflict-question]");
    var actions = form && form.querySelector("[data-save-actions]");
    if (actions) { actions.hidden = false; }
    if (question) { question.remove(); }
    var truck = form && form.querySelector("select[name=truck_id]");
    if (truck) { truck.focus(); }
  });

  /* Bulk actions post the ticked rows; nothing ticked, nothing sent. */
  document.addEventListener("htmx:confirm", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.id === "bulk-form" &&
        !document.querySelector("input.row-select:checked")) {
      event.preventDefault();
      toast("Tick the jobs first (the boxes at the start of each row).", "warning");
    }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "toasts") {
      event.detail.target.querySelectorAll(".toast:not([data-leaving])").forEach(function (el) {
        el.setAttribute("data-leaving", "");
        setTimeout(function () { el.classList.add("is-leaving"); }, 5000);
        setTimeout(function () { el.remove(); }, 5600);
      });
    }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.target && event.target.id === "bulk-form" && event.detail.successful) {
      document.querySelectorAll("input.row-select:checked").forEach(function (box) { box.checked = false; });
    }
  });

  /* Live parts (the board, My jobs) ask "changed since?": each poll sends the ETag of what is
     on screen and an unchanged part answers 304, which swaps nothing. The browser would not
     send it by itself: these answers are no-store, so it keeps no copy to revalidate. */
  var liveTags = {"board-live": null, "my-jobs-live": null};
  document.addEventListener("htmx:configRequest", function (event) {
    var id = event.detail.elt && event.detail.elt.id;
    if (id && liveTags[id]) {
      event.detail.headers["If-None-Match"] = liveTags[id];
    }
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr.status === 304) {
      event.detail.shouldSwap = false;   // an empty body must never replace the board
      refreshRelativeTimes();
    }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var target = event.detail.target, xhr = event.detail.xhr;
    if (target && target.id in liveTags && xhr && xhr.status === 200) {
      liveTags[target.id] = xhr.getResponseHeader("ETag");   // null for an answer without one
    }
  });

  /* The board is morphed in place on every refresh (idiomorph keeps focus and scroll by itself);
     ticked rows stay ticked. Typing happens outside it (filters, the assign panel). Not
     ignoreActiveValue: it would also freeze the focused cell's contents, e.g. a truck just assigned. */
  document.addEventListener("DOMContentLoaded", function () {
    if (!window.Idiomorph) { return; }
    window.Idiomorph.defaults.callbacks.beforeAttributeUpdated = function (name, element) {
      if (name === "checked" && element.classList && element.classList.contains("row-select")) { return false; }
      return true;
    };
  });

  /* Flash messages fade after a while, except warnings and errors. */
  setTimeout(function () {
    document.querySelectorAll(".flashes .alert-success, .flashes .alert-info").forEach(function (el) {
      el.classList.add("is-leaving");
    });
  }, 6000);
})();

/* Changed badges (issue 19): a change detail the dispatcher opened stays open while the live board
   is morphed by a refresh (the server's HTML always has it closed). */
document.addEventListener("DOMContentLoaded", function () {
  if (!window.Idiomorph) { return; }
  var previous = window.Idiomorph.defaults.callbacks.beforeAttributeUpdated;
  window.Idiomorph.defaults.callbacks.beforeAttributeUpdated = function (name, element, mutation) {
    if (name === "open" && element.classList && element.classList.contains("chg")) { return false; }
    return previous ? previous(name, element, mutation) : true;
  };
});

/* The crew picker's group headings (issue 17) hide while a search leaves their group empty. */
document.addEventListener("input", function (event) {
  var input = event.target;
  if (!(input instanceof HTMLInputElement) || !input.dataset.filterList) { return; }
  var list = document.querySelector(input.dataset.filterList);
  if (!list) { return; }
  list.querySelectorAll("[data-crew-group]").forEach(function (group) {
    group.hidden = !Array.prototype.some.call(group.querySelectorAll("li[data-name]"), function (item) { return !item.hidden; });
  });
});

/* Send plan (templates/plans/_entry.html): the panel loads its counts each time it is opened, never on
   closing (a late answer to a closing toggle would replace what "Send" just showed). */
document.addEventListener("toggle", function (event) {
  var panel = event.target;
  if (!(panel instanceof HTMLDetailsElement) || panel.id !== "publish-panel" || !panel.open || !window.htmx) { return; }
  window.htmx.trigger(panel.querySelector("#publish-pop"), "publish-open");
}, true);

/* Board keyboard (issue 20 §5): "Skip to the jobs" lands on the first job; ↑/↓ or j/k move between jobs (table
   rows, cards, lane blocks), t and c open the focused job's truck or crew panel, Enter opens the job. Keys typed
   into a field, or with Ctrl/Alt/Meta, are left alone. */
(function () {
  "use strict";
  function jobs() {
    var live = document.getElementById("board-live");
    return live ? Array.prototype.filter.call(live.querySelectorAll("[data-job-id]"), function (el) {
      return el.offsetParent !== null && !el.parentElement.closest("[data-job-id]");
    }) : [];
  }
  function focusJob(el) {
    if (!el) { return; }
    var target = el.matches("a, [tabindex]") ? el : el.querySelector("a[href]");
    if (target) { target.focus(); target.scrollIntoView({ block: "nearest" }); }
  }
  document.addEventListener("click", function (event) {
    var skip = event.target instanceof Element && event.target.closest("[data-skip-board]");
    if (!skip) { return; }
    var first = jobs()[0];
    if (first) { event.preventDefault(); focusJob(first); }
  });
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (!(target instanceof Element) || event.ctrlKey || event.altKey || event.metaKey) { return; }
    if (target.matches("input:not([type=checkbox]), select, textarea, [contenteditable]")) { return; }
    var job = target.closest("#board-live [data-job-id]");
    if (!job) { return; }
    var key = event.key, list, index;
    if (key === "ArrowDown" || key === "j" || key === "ArrowUp" || key === "k") {
      list = jobs();
      index = list.indexOf(job) + (key === "ArrowDown" || key === "j" ? 1 : -1);
      if (index >= 0 && index < list.length) { event.preventDefault(); focusJob(list[index]); }
    } else if (key === "t" || key === "c") {
      var cell = job.querySelector('a[data-assign-kind="' + (key === "t" ? "truck" : "crew") + '"]') ||
        (job.matches("a[data-assign]") ? job : job.querySelector("a[data-assign]"));
      if (cell) {
        event.preventDefault();
        cell.dataset.openOn = key === "c" ? "crew" : "truck";   // read by the click handler above
        cell.click();
        delete cell.dataset.openOn;
      }
    } else if (key === "Enter" && target === job && !job.matches("a")) {
      var open = job.querySelector(".t-job a, .jc-cust, a[href]");
      if (open) { event.preventDefault(); open.click(); }
    }
  });

  /* A sort header swaps the board in place (hx-push-url): the filter form carries the new order on. */
  document.addEventListener("htmx:pushedIntoHistory", function () {
    var form = document.querySelector("form.filters");
    if (!form) { return; }
    var sort = new URLSearchParams(window.location.search).get("sort");
    var input = form.querySelector("input[name=sort]");
    if (sort && !input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = "sort";
      form.insertBefore(input, form.firstChild);
    }
    if (input && sort) { input.value = sort; } else if (input) { input.remove(); }
    // The day and view links keep the order too (they are outside the swapped board).
    document.querySelectorAll(".day-nav a[href], .view-toggle a[href]").forEach(function (link) {
      var url = new URL(link.getAttribute("href"), window.location.href);
      if (sort) { url.searchParams.set("sort", sort); } else { url.searchParams.delete("sort"); }
      link.setAttribute("href", url.pathname + url.search);
    });
  });

  /* Truck lanes on today: a "now" line at the company's current time (its zone, not the browser's). */
  function placeNowLine() {
    var lanes = document.querySelector("[data-lanes][data-tz]");
    var line = document.querySelector("[data-now-line]");
    if (!lanes || !line) { return; }
    var parts = {};
    new Intl.DateTimeFormat("en-CA", { timeZone: lanes.dataset.tz, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(new Date()).forEach(function (p) { parts[p.type] = p.value; });
    var hours = Number(parts.hour) + Number(parts.minute) / 60 - Number(lanes.dataset.firstHour);
    var share = hours / Number(lanes.dataset.hours);
    var track = lanes.querySelector(".lane-hours .track");
    if (parts.year + "-" + parts.month + "-" + parts.day !== lanes.dataset.day || !track || share < 0 || share > 1) {
      line.hidden = true;
      return;
    }
    line.style.left = (track.offsetLeft + share * track.offsetWidth) + "px";
    line.style.height = lanes.offsetHeight + "px";
    line.hidden = false;
  }
  document.addEventListener("DOMContentLoaded", placeNowLine);
  document.addEventListener("htmx:afterSettle", placeNowLine);
  window.addEventListener("resize", placeNowLine);
  setInterval(placeNowLine, 60000);

  /* The "No truck" queue stays as the dispatcher left it (open or folded) through live refreshes. */
  document.addEventListener("DOMContentLoaded", function () {
    if (!window.Idiomorph) { return; }
    var previous = window.Idiomorph.defaults.callbacks.beforeAttributeUpdated;
    window.Idiomorph.defaults.callbacks.beforeAttributeUpdated = function (name, element, mutation) {
      if (name === "open" && element.classList && element.classList.contains("lane-queue")) { return false; }
      return previous ? previous(name, element, mutation) : true;
    };
  });
})();
