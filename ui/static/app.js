// webhookdb: load buttons in the background and live scan progress. No
// framework; without JavaScript the forms post and the server answers 303
// back to the page, which shows the scan.
(function () {
  "use strict";

  var POLL_MS = 1000;

  function csrfToken(form) {
    var field = form && form.querySelector('input[name="csrf_token"]');
    if (field) return field.value;
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function say(text, bad) {
    var box = document.getElementById("load-message");
    if (!box) return;
    box.textContent = text;
    box.classList.toggle("error", !!bad);
  }

  // progressText is the line under a scan's bar.
  function progressText(st) {
    var total = st.pages_total == null ? "?" : st.pages_total;
    return "pages " + st.pages_done + " of " + total + ", " + st.items + " items, " +
      st.requests + " requests, " + st.not_modified + " 304s";
  }

  // scanElement builds the element the server renders for a scan (repo.html).
  function scanElement(id, what) {
    var li = document.createElement("li");
    li.className = "scan status-queued";
    li.setAttribute("data-scan-id", String(id));
    li.setAttribute("aria-live", "polite");
    var label = document.createElement("span");
    label.className = "scan-what";
    label.textContent = "Scan " + id + ": " + what;
    var status = document.createElement("span");
    status.className = "scan-status";
    status.setAttribute("data-field", "status");
    status.textContent = "queued";
    var bar = document.createElement("progress");
    bar.setAttribute("aria-label", "Scan " + id + " progress");
    var text = document.createElement("span");
    text.className = "scan-text";
    text.setAttribute("data-field", "text");
    text.textContent = "pages 0 of ?, 0 items, 0 requests, 0 304s";
    var err = document.createElement("span");
    err.className = "scan-error";
    err.setAttribute("data-field", "error");
    li.append(label, " — ", status, bar, text, err);
    return li;
  }

  function field(el, name) {
    return el.querySelector('[data-field="' + name + '"]');
  }

  // update shows st in el; it says whether the scan is still going.
  function update(el, st) {
    var bar = el.querySelector("progress");
    if (bar) {
      if (st.pages_total != null && st.pages_total > 0) {
        bar.max = st.pages_total;
        bar.value = Math.min(st.pages_done, st.pages_total);
      } else if (st.status === "done") {
        bar.max = 1;
        bar.value = 1;
      }
      bar.textContent = progressText(st);
    }
    var status = field(el, "status");
    if (status && status.textContent !== st.status) status.textContent = st.status;
    var text = field(el, "text");
    var line = progressText(st);
    if (text && text.textContent !== line) text.textContent = line;
    el.className = el.className.replace(/\bstatus-\S+/, "status-" + st.status);
    var err = field(el, "error");
    if (err) err.textContent = st.status === "failed" ? "Failed: " + (st.error || "unknown error") : "";
    return st.status !== "done" && st.status !== "failed";
  }

  // poll asks GET /status/{id} every second until the scan is done or
  // failed (or the page stops answering it: 404, 401).
  function poll(el) {
    var id = el.getAttribute("data-scan-id");
    if (!id || el.dataset.polling) return;
    el.dataset.polling = "1";
    function tick() {
      fetch("/status/" + encodeURIComponent(id), {
        credentials: "same-origin",
        headers: { Accept: "application/json" }
      }).then(function (res) {
        if (!res.ok) throw new Error("status " + res.status);
        return res.json();
      }).then(function (st) {
        if (update(el, st)) {
          setTimeout(tick, POLL_MS);
        } else {
          el.removeAttribute("data-scan-id");
          delete el.dataset.polling;
        }
      }).catch(function (e) {
        var err = field(el, "error");
        if (err) err.textContent = "Progress unavailable (" + e.message + ")";
        delete el.dataset.polling;
      });
    }
    tick();
  }

  // background posts a load form with fetch and shows its scan.
  function background(form, ev) {
    ev.preventDefault();
    var button = form.querySelector('button[type="submit"], button:not([type])');
    if (button) button.disabled = true;
    var body = new URLSearchParams(new FormData(form));
    fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRF-Token": csrfToken(form) },
      body: body
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (b) { return { res: res, body: b }; });
    }).then(function (a) {
      if (a.res.status !== 202 || !a.body.scan_id) {
        say((button ? button.textContent + ": " : "") + (a.body.message || "failed (" + a.res.status + ")"), true);
        return;
      }
      var list = document.getElementById("scans");
      var empty = document.getElementById("no-scans");
      if (empty) empty.remove();
      var id = a.body.scan_id;
      var el = list && list.querySelector('[data-scan-id="' + id + '"]');
      if (!el && list) {
        var what = button ? button.textContent.replace(/^Load /, "") : "load";
        el = scanElement(id, what);
        list.insertBefore(el, list.firstChild);
      }
      say("Load queued as scan " + id + ".", false);
      if (el) poll(el);
    }).catch(function (e) {
      say("The load could not be sent: " + e.message, true);
    }).finally(function () {
      if (button) button.disabled = false;
    });
  }

  function start() {
    document.querySelectorAll("form[data-background]").forEach(function (form) {
      form.addEventListener("submit", function (ev) { background(form, ev); });
    });
    document.querySelectorAll("[data-scan-id]").forEach(poll);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
