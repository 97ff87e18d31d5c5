// The chapter page's "Listen to this chapter" player: the native <audio controls> does everything; this
// only says in the polite status region what a screen reader user cannot otherwise perceive (Orca found
// the plain player silent): "Playing", "Paused at 1:23", the end, and a failure such as a busy server.
// It never moves focus.
(function () {
  "use strict";
  var root = document.querySelector("[data-listen-now]");
  if (!root) {
    return;
  }
  var audio = root.querySelector("[data-listen-audio]");
  var status = root.querySelector("[data-listen-status]");
  var pending = null;
  var started = false;

  function text(name, values) {
    var template = root.getAttribute("data-text-" + name) || "";
    return template.replace(/%\((\w+)\)s/g, function (_, field) {
      return values && field in values ? values[field] : "";
    });
  }

  function clock(seconds) {
    var whole = Math.max(0, Math.round(seconds || 0));
    var h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60), s = whole % 60;
    return (h ? h + ":" + (m < 10 ? "0" : "") : "") + m + ":" + (s < 10 ? "0" : "") + s;
  }

  function announce(message) {
    // Emptied first so the same words said twice are spoken again.
    window.clearTimeout(pending);
    status.textContent = "";
    pending = window.setTimeout(function () { status.textContent = message; }, 50);
  }

  audio.addEventListener("play", function () {
    if (!started && audio.readyState < 3) {
      announce(text("loading"));
    }
  });
  audio.addEventListener("playing", function () {
    started = true;
    announce(text("playing"));
  });
  audio.addEventListener("pause", function () {
    if (!audio.ended) {
      announce(text("paused", { time: clock(audio.currentTime) }));
    }
  });
  audio.addEventListener("ended", function () { announce(text("ended")); });
  audio.addEventListener("error", function () {
    // The element says only that it failed; a HEAD request (nothing is spoken for it) says whether the
    // library is busy, and for how long.
    if (!window.fetch) {
      announce(text("error"));
      return;
    }
    window.fetch(audio.currentSrc || audio.src, { method: "HEAD", credentials: "same-origin" })
      .then(function (response) {
        var wait = parseInt(response.headers.get("Retry-After") || "", 10);
        announce(response.status === 503 && wait > 0 ? text("busy", { seconds: wait }) : text("error"));
      })
      .catch(function () { announce(text("error")); });
  });
  root.setAttribute("data-enhanced", "");
})();
