// Live job progress for the staff job pages and a reader's braille edition page, as an enhancement: without
// it the pages still say everything and offer a "Refresh status" / "Check again" link. Every 2 seconds each
// unfinished job on the page ([data-job-url]) is fetched as JSON and its [data-field] elements updated with
// the words the server already translated. A job with [data-announce] also speaks through its aria-live
// region, and only when the progress reaches a new 10% step, when a new notice comes (a retry), and once at
// the end: screen reader users hear "40% done", not every percent. At the end the page shows what to do
// next: the download (.job-done, its [data-download] link pointed at the file) or, after a failure, the
// way to try again (.job-failed).
(function () {
  "use strict";
  var INTERVAL = 2000;

  function Watcher(element) {
    this.element = element;
    this.url = element.getAttribute("data-job-url");
    var regionId = element.getAttribute("data-announce");
    this.region = regionId ? document.getElementById(regionId) : null;
    // What the page already says is not news: announce only steps beyond it.
    this.milestone = parseInt(element.getAttribute("data-milestone") || "0", 10) || 0;
    this.notice = element.getAttribute("data-notice") || "";
    this.done = false;
  }

  Watcher.prototype.announce = function (text) {
    if (this.region && text) {
      this.region.textContent = text;
    }
  };

  Watcher.prototype.show = function (job) {
    var fields = this.element.querySelectorAll("[data-field]");
    for (var i = 0; i < fields.length; i++) {
      var field = fields[i];
      var name = field.getAttribute("data-field");
      if (!(name in job)) continue;
      if (field.tagName === "PROGRESS") {
        field.value = job[name];
      } else {
        field.textContent = job[name];
      }
      if (name === "status_text") {
        field.className = "status-" + job.status;
      }
    }
    var checked = document.querySelectorAll("[data-checked]");
    for (var j = 0; j < checked.length; j++) {
      if (job.checked_text) checked[j].textContent = job.checked_text;
    }
    if (job.finished) {
      this.done = true;
      this.announce(job.final_text);
      var refresh = this.element.querySelector("[data-refresh]");
      if (refresh) refresh.hidden = true;
      var ready = this.element.querySelector(".job-done");
      if (ready && job.status === "done") {
        var download = ready.querySelector("[data-download]");
        if (download && job.download_url) download.setAttribute("href", job.download_url);
        ready.hidden = false;
      }
      var failed = this.element.querySelector(".job-failed");
      if (failed && job.status === "failed") failed.hidden = false;
      return;
    }
    var notice = job.notice || "";
    if (notice !== this.notice) {
      this.notice = notice;
      if (notice) {
        this.milestone = job.milestone; // the retry is the news; its progress starts again, silently
        this.announce(notice);
        return;
      }
    }
    if (job.milestone > this.milestone) {
      this.milestone = job.milestone;
      this.announce(job.milestone_text);
    } else if (job.milestone < this.milestone) {
      this.milestone = job.milestone; // a new attempt started from the beginning: count again, silently
    }
  };

  Watcher.prototype.poll = function () {
    var self = this;
    return fetch(self.url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (!response.ok || type.indexOf("application/json") !== 0) {
          self.done = true; // signed out or gone: the page keeps its last words and its refresh link
          return null;
        }
        return response.json();
      })
      .then(function (job) {
        if (job) self.show(job);
      })
      .catch(function () {
        // A network hiccup: try again next time.
      });
  };

  function start() {
    var elements = document.querySelectorAll("[data-job-url]");
    var watchers = [];
    for (var i = 0; i < elements.length; i++) watchers.push(new Watcher(elements[i]));
    if (!watchers.length || !window.fetch) return;
    function tick() {
      var pending = watchers.filter(function (w) { return !w.done; });
      if (!pending.length) return;
      Promise.all(pending.map(function (w) { return w.poll(); })).then(function () {
        window.setTimeout(tick, INTERVAL);
      });
    }
    window.setTimeout(tick, INTERVAL);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
