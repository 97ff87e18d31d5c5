// The book page's player, as an enhancement of the chapter links (which play and save without it).
// One <audio> for the whole book: chapter links load into it, the next chapter starts by itself, and the
// chapter, time and speed are remembered per book in localStorage (no account needed), offered back as a
// "Resume" button rather than by jumping somewhere the reader did not ask for. Shortcuts are Alt+Shift and
// a key no screen reader uses (see listen.py), read from event.code so they work whatever characters Option
// makes on a Mac; each is also a visible button. Announcements go through one polite status region, and
// only for what the reader cannot otherwise perceive: that it plays ("Playing") or stopped and where
// ("Paused at 0:34"), a new chapter, a new speed, where a skip landed. Nothing claims to play before the
// audio does: a chapter chosen while paused is "Current chapter: ...", and "Playing: ..." waits for the
// element's own play event. For a signed-in reader (the root has data-save-url) the place is also kept on
// the server, so it can be resumed on another device: the newer of the two places is offered.
(function () {
  "use strict";
  var root = document.querySelector("[data-player-root]");
  if (!root || !window.HTMLAudioElement) {
    return;
  }
  var SAVE_EVERY = 5000;
  var SERVER_EVERY = 15000;
  var saveUrl = root.getAttribute("data-save-url");
  var lastServerSave = 0;
  var SKIP = 30;
  var player = root.querySelector("[data-player]");
  var audio = root.querySelector("[data-audio]");
  var links = Array.prototype.slice.call(root.querySelectorAll("a[data-chapter]"));
  var now = root.querySelector("[data-now]");
  var status = root.querySelector("[data-status]");
  var speed = root.querySelector("[data-speed]");
  var playButton = root.querySelector("[data-action=play]");
  var resumeRow = root.querySelector("[data-resume-row]");
  var resumeButton = root.querySelector("[data-action=resume]");
  var key = "accessible-lib:listen:" + root.getAttribute("data-book");
  var rates = Array.prototype.map.call(speed.options, function (o) { return parseFloat(o.value); });
  var current = 0;
  var lastSave = 0;
  var pendingTime = null;
  var remembered = null;
  var playMessage = null;  // what the next play event says instead of "Playing" (a new chapter's title)
  var pending = null;

  function text(name, values) {
    var template = root.getAttribute("data-text-" + name) || "";
    return template.replace(/%\((\w+)\)s/g, function (_, field) {
      return values && field in values ? values[field] : "";
    });
  }

  function clock(seconds) {
    var whole = Math.max(0, Math.round(seconds || 0));
    var h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60), s = whole % 60;
    var mm = (h && m < 10 ? "0" : "") + m, ss = (s < 10 ? "0" : "") + s;
    return (h ? h + ":" : "") + mm + ":" + ss;
  }

  function announce(message) {
    // Emptied first so the same words said twice are still spoken; of two messages in a row only the
    // last is given (a chapter that ends fires "pause" just before the next one plays).
    window.clearTimeout(pending);
    status.textContent = "";
    pending = window.setTimeout(function () { status.textContent = message; }, 50);
  }

  function title(index) {
    return links[index].textContent.trim();
  }

  function rate() {
    return parseFloat(speed.value) || 1;
  }

  function setRate(value, say, quiet) {
    var closest = rates.reduce(function (best, r) {
      return Math.abs(r - value) < Math.abs(best - value) ? r : best;
    }, 1);
    speed.value = String(closest);
    if (speed.value === "" || speed.selectedIndex < 0) {
      speed.value = "1";
    }
    audio.defaultPlaybackRate = closest;
    audio.playbackRate = closest;
    if (!quiet) {
      save(true);
    }
    if (say) {
      announce(text("speed", { rate: speed.options[speed.selectedIndex].textContent.replace("×", "") }));
    }
  }

  function load(index, time, play) {
    current = Math.max(0, Math.min(index, links.length - 1));
    links.forEach(function (link, i) {
      if (i === current) {
        link.setAttribute("aria-current", "true");
      } else {
        link.removeAttribute("aria-current");
      }
    });
    now.textContent = text("now", { title: title(current) });
    pendingTime = time || 0;
    audio.src = links[current].getAttribute("href");
    audio.defaultPlaybackRate = rate();
    audio.load();
    if (play) {
      playMessage = text("playing-chapter", { title: title(current) });
      start();
    } else {
      playMessage = null;
      announce(text("now", { title: title(current) }));
    }
    save(true);
  }

  function start() {
    var promise = audio.play();
    if (promise && promise.catch) {
      promise.catch(function () {
        // The browser wants a gesture first: say where the player is; the reader can press Play.
        if (audio.paused && playMessage) {
          playMessage = null;
          announce(text("now", { title: title(current) }));
        }
      });
    }
  }

  function save(force) {
    var stamp = Date.now();
    if (!force && stamp - lastSave < SAVE_EVERY) {
      return;
    }
    lastSave = stamp;
    var time = pendingTime !== null ? pendingTime : audio.currentTime;
    try {
      window.localStorage.setItem(key, JSON.stringify({ chapter: current, time: time, rate: rate(), at: stamp }));
    } catch (e) { /* private browsing or storage full: listening still works */ }
    saveOnServer(force, time);
  }

  function saveOnServer(force, time) {
    var stamp = Date.now();
    if (!saveUrl || !window.fetch || (!force && stamp - lastServerSave < SERVER_EVERY)) {
      return;
    }
    lastServerSave = stamp;
    var body = {
      book: parseInt(root.getAttribute("data-book"), 10),
      edition: parseInt(root.getAttribute("data-edition"), 10),
      chapter: current + 1, seconds: Math.max(0, time || 0), rate: rate(),
      csrf_token: root.getAttribute("data-csrf")
    };
    try {
      window.fetch(saveUrl, {
        method: "POST", credentials: "same-origin", keepalive: true,
        headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
      }).catch(function () { /* offline: the browser's copy is still there */ });
    } catch (e) { /* no keepalive support: nothing to do */ }
  }

  function fromServer() {
    var chapter = parseInt(root.getAttribute("data-server-chapter") || "", 10);
    if (!(chapter >= 1 && chapter <= links.length)) {
      return null;
    }
    return {
      chapter: chapter - 1,
      time: parseFloat(root.getAttribute("data-server-seconds")) || 0,
      rate: parseFloat(root.getAttribute("data-server-rate")) || 1,
      at: Date.parse(root.getAttribute("data-server-at") || "") || 0
    };
  }

  function saved() {
    var local = null;
    try {
      var value = JSON.parse(window.localStorage.getItem(key) || "null");
      if (value && typeof value.chapter === "number" && value.chapter >= 0 && value.chapter < links.length) {
        local = value;
      }
    } catch (e) { /* unreadable: start from the beginning */ }
    var server = fromServer();
    if (server && (!local || server.at > (local.at || 0))) {
      return server;  // listened to on another device since
    }
    return local;
  }

  function skip(seconds) {
    var duration = isFinite(audio.duration) ? audio.duration : Infinity;
    if (seconds > 0 && (audio.currentTime || 0) + seconds >= duration && current + 1 < links.length) {
      // Past the end: the next chapter, playing or paused as before (a paused element never fires "ended").
      load(current + 1, 0, !audio.paused);
      return;
    }
    audio.currentTime = Math.max(0, Math.min((audio.currentTime || 0) + seconds, duration));
    announce(position());
    save(true);
  }

  function position() {
    var time = clock(audio.currentTime);
    return isFinite(audio.duration) ? text("position", { time: time, total: clock(audio.duration) }) : time;
  }

  function next(play) {
    if (current + 1 < links.length) {
      load(current + 1, 0, play);
    } else {
      announce(text("end"));
    }
  }

  function previous() {
    if (audio.currentTime > 5 || current === 0) {
      var restart = audio.currentTime > 5;
      audio.currentTime = 0;
      announce(restart ? position() : text("first"));
    } else {
      load(current - 1, 0, !audio.paused);
    }
  }

  function step(direction) {
    var index = rates.indexOf(rate());
    var target = rates[Math.max(0, Math.min(rates.length - 1, (index < 0 ? rates.indexOf(1) : index) + direction))];
    setRate(target, true);
  }

  function editable(element) {
    var type = element.tagName === "INPUT" ? (element.getAttribute("type") || "text").toLowerCase() : "";
    var notText = ["button", "checkbox", "radio", "submit", "reset", "range", "color", "file", "image"];
    return element.isContentEditable || element.tagName === "TEXTAREA" ||
      (element.tagName === "INPUT" && notText.indexOf(type) < 0);
  }

  var actions = {
    play: function () { if (audio.paused) { start(); } else { audio.pause(); } },
    back: function () { skip(-SKIP); },
    forward: function () { skip(SKIP); },
    next: function () { next(!audio.paused); },  // a paused player stays paused, as on any player
    previous: previous,
    faster: function () { step(1); },
    slower: function () { step(-1); },
    resume: function () {
      resumeRow.hidden = true;
      if (remembered) {
        load(remembered.chapter, remembered.time, true);
      }
    }
  };
  // The keys come from the buttons (listen.py CONTROLS), so the page, the buttons and the script agree.
  var shortcuts = {};
  Array.prototype.forEach.call(root.querySelectorAll("button[data-code]"), function (button) {
    shortcuts[button.getAttribute("data-code")] = button.getAttribute("data-action");
  });

  // "Continue listening" above the player plays the chapter from the kept place in this player.
  Array.prototype.forEach.call(document.querySelectorAll("[data-resume-link]"), function (link) {
    link.addEventListener("click", function (event) {
      var chapter = parseInt(link.getAttribute("data-chapter-number"), 10) - 1;
      if (chapter >= 0 && chapter < links.length) {
        event.preventDefault();
        resumeRow.hidden = true;
        load(chapter, parseFloat(link.getAttribute("data-seconds")) || 0, true);
        playButton.focus();
      }
    });
  });

  root.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target.closest("[data-action], a[data-chapter]") : null;
    if (!target || !root.contains(target)) {
      return;
    }
    if (target.hasAttribute("data-chapter")) {
      event.preventDefault();
      load(parseInt(target.getAttribute("data-chapter"), 10), 0, true);
      player.querySelector("[data-action=play]").focus();
      return;
    }
    actions[target.getAttribute("data-action")]();
  });

  document.addEventListener("keydown", function (event) {
    if (!event.altKey || !event.shiftKey || event.ctrlKey || event.metaKey || !shortcuts[event.code]) {
      return;
    }
    if (editable(event.target)) {
      return;  // Option+Shift types characters on a Mac: a search box keeps them
    }
    event.preventDefault();
    actions[shortcuts[event.code]]();
  });

  speed.addEventListener("change", function () { setRate(rate(), true); });
  audio.addEventListener("loadedmetadata", function () {
    if (pendingTime) {
      audio.currentTime = Math.min(pendingTime, audio.duration || pendingTime);
    }
    pendingTime = null;
    audio.playbackRate = rate();
  });
  audio.addEventListener("play", function () {
    playButton.textContent = text("pause");
    announce(playMessage || text("playing"));
    playMessage = null;
  });
  audio.addEventListener("pause", function () {
    playButton.textContent = text("play");
    save(true);
    if (!audio.ended) {  // at a chapter's end the next one starts, and says so
      announce(text("paused", { time: clock(audio.currentTime) }));
    }
  });
  audio.addEventListener("timeupdate", function () { save(false); });
  audio.addEventListener("ended", function () { next(true); });
  window.addEventListener("pagehide", function () { save(true); });

  player.hidden = false;
  links[current].setAttribute("aria-current", "true");
  now.textContent = text("now", { title: title(current) });
  // Read once: the player saves as soon as it is used, and the offer must stay what was remembered.
  remembered = saved();
  if (remembered) {
    setRate(remembered.rate || 1, false, true);
    if (remembered.chapter > 0 || remembered.time > 1) {
      resumeButton.textContent = text("resume", {
        title: title(remembered.chapter), time: clock(remembered.time)
      });
      resumeRow.hidden = false;
    }
  }
}());
