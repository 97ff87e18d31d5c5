// Read-along on the chapter page: "Read aloud" plays the chapter's spoken stream and highlights the
// sentence being heard (the server marked each with data-s="K": the stream's sentence K), keeps it in view,
// and offers previous and next sentence, speed, and reading from a chosen sentence, as buttons and Alt+Shift
// shortcuts. Timings come from /timings, asked again while the stream speaks ahead until it has them all.
//
// For screen reader users it must never get in the way: it never calls focus(), never writes a sentence
// into a live region, and the toggle tells whether it reads by its own aria-pressed. Errors only go to a
// status line. The page works without this script: the native player above reads the same chapter.
(function () {
  "use strict";
  var root = document.querySelector("[data-readalong]");
  var main = document.querySelector("main") || document.body;
  if (!root || !window.fetch || !window.JSON) {
    return;
  }
  var audio = root.querySelector("[data-readalong-audio]");
  var toggle = root.querySelector('[data-readalong-action="play"]');
  var speedText = root.querySelector("[data-readalong-speed]");
  var errorLine = root.querySelector("[data-readalong-error]");
  var native = document.querySelector("[data-listen-audio]");
  var count = parseInt(root.getAttribute("data-count"), 10) || 0;
  var speeds = [0.75, 1, 1.25, 1.5, 1.75, 2];
  var speed = 1;
  var marks = {}; // sentence number -> the elements that show it
  var streamFrom = 0; // the sentence the current audio starts with
  var timings = []; // [number, start, end] of the current stream, in order
  var complete = false;
  var current = -1;
  var started = false;
  var generation = 0; // bumped for each new stream, so an old stream's timings are dropped
  var frame = null;
  var reduced = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)");

  Array.prototype.forEach.call(main.querySelectorAll("[data-s]"), function (element) {
    element.getAttribute("data-s").split(" ").forEach(function (number) {
      (marks[number] = marks[number] || []).push(element);
    });
  });

  function text(name, values) {
    var template = root.getAttribute("data-text-" + name) || "";
    return template.replace(/%\((\w+)\)s/g, function (_, field) {
      return values && field in values ? values[field] : "";
    });
  }

  function firstNumber(element) {
    return parseInt(element.getAttribute("data-s").split(" ")[0], 10);
  }

  function highlight(number) {
    if (number === current) {
      return;
    }
    (marks[current] || []).forEach(function (element) { element.classList.remove("reading-now"); });
    current = number;
    root.setAttribute("data-current", String(number));
    var shown = marks[number] || [];
    shown.forEach(function (element) { element.classList.add("reading-now"); });
    if (shown.length) {
      // Scrolling never moves the focus; "nearest" leaves a sentence already in view where it is.
      shown[0].scrollIntoView({ block: "nearest", behavior: reduced && reduced.matches ? "auto" : "smooth" });
    }
  }

  function sentenceAt(time) {
    var found = -1;
    for (var i = 0; i < timings.length && timings[i][1] <= time; i++) {
      found = timings[i][0];
    }
    return found;
  }

  function update() {
    var number = sentenceAt(audio.currentTime);
    if (number >= 0) {
      highlight(number);
    }
  }

  function tick() {
    update();
    frame = audio.paused ? null : window.requestAnimationFrame(tick);
  }

  function askTimings(mine) {
    var url = root.getAttribute("data-timings") + "?from=" + streamFrom;
    window.fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) {
        if (mine !== generation || !answer) {
          return;
        }
        timings = answer.sentences;
        complete = answer.complete;
        update();
        if (!complete) {
          // Asked again soon while little is known ahead of what plays, rarely once much is.
          var known = timings.length ? timings[timings.length - 1][2] : 0;
          var ahead = (known - audio.currentTime) / (audio.playbackRate || 1);
          window.setTimeout(function () { askTimings(mine); }, ahead > 30 ? 5000 : ahead > 10 ? 2000 : 700);
        }
      })
      .catch(function () {
        if (mine === generation) {
          window.setTimeout(function () { askTimings(mine); }, 2000);
        }
      });
  }

  function reveal() {
    Array.prototype.forEach.call(root.querySelectorAll("[data-readalong-more]"), function (element) {
      element.hidden = false;
    });
  }

  function play() {
    var playing = audio.play();
    if (playing && playing.catch) {
      playing.catch(function () {});
    }
  }

  function startAt(number) {
    started = true;
    reveal();
    errorLine.textContent = "";
    generation += 1;
    streamFrom = Math.max(0, Math.min(number, count - 1));
    timings = [];
    complete = false;
    var base = root.getAttribute("data-audio");
    audio.src = streamFrom ? base + "?from=" + streamFrom : base;
    audio.defaultPlaybackRate = speed;
    audio.playbackRate = speed;
    highlight(streamFrom);
    play();
    askTimings(generation);
  }

  function seekable(time) {
    for (var i = 0; i < audio.seekable.length; i++) {
      if (audio.seekable.start(i) <= time && time <= audio.seekable.end(i)) {
        return true;
      }
    }
    return false;
  }

  function jump(number) {
    number = Math.max(0, Math.min(number, count - 1));
    for (var i = 0; i < timings.length; i++) {
      if (timings[i][0] === number && seekable(timings[i][1])) {
        audio.currentTime = timings[i][1] + 0.001;
        highlight(number);
        if (audio.paused) {
          play();
        }
        return;
      }
    }
    startAt(number);
  }

  function setSpeed(step) {
    var index = speeds.indexOf(speed) + step;
    speed = speeds[Math.max(0, Math.min(index, speeds.length - 1))];
    audio.defaultPlaybackRate = speed;
    audio.playbackRate = speed;
    speedText.textContent = text("speed", { rate: String(speed) });
  }

  function fromSelection() {
    var selection = window.getSelection && window.getSelection();
    var node = selection && selection.rangeCount ? selection.anchorNode : null;
    var element = node && (node.nodeType === 1 ? node : node.parentElement);
    var mark = element && element.closest("[data-s]");
    if (mark && main.contains(mark)) {
      jump(firstNumber(mark));
    }
  }

  var actions = {
    play: function () {
      if (!started || audio.ended) {
        startAt(0);
      } else if (audio.paused) {
        play();
      } else {
        audio.pause();
        toggle.setAttribute("aria-pressed", "false"); // at once, not when the "pause" event comes
      }
    },
    previous: function () { jump((current >= 0 ? current : streamFrom) - 1); },
    next: function () { jump((current >= 0 ? current : streamFrom) + 1); },
    slower: function () { setSpeed(-1); },
    faster: function () { setSpeed(1); },
    here: fromSelection,
  };

  root.addEventListener("click", function (event) {
    var button = event.target.closest("[data-readalong-action]");
    if (button && actions[button.getAttribute("data-readalong-action")]) {
      actions[button.getAttribute("data-readalong-action")]();
    }
  });

  document.addEventListener("keydown", function (event) {
    if (!event.altKey || !event.shiftKey || event.ctrlKey || event.metaKey) {
      return;
    }
    var button = root.querySelector('[data-code="' + event.code + '"]');
    if (button && actions[button.getAttribute("data-readalong-action")]) {
      event.preventDefault();
      actions[button.getAttribute("data-readalong-action")]();
    }
  });

  // While reading, a click or tap on a sentence reads from there; links, controls and a selection made
  // with the mouse keep their own meaning. The listener is on the document, not on the text, so the text
  // itself carries no handler for a browser to report to assistive technology as "clickable".
  document.addEventListener("click", function (event) {
    if (!started || event.defaultPrevented || event.button !== 0 || !(event.target instanceof Element)) {
      return;
    }
    if (root.contains(event.target) || !main.contains(event.target)) {
      return;
    }
    if (event.target.closest("a, button, input, select, textarea, summary, label")) {
      return;
    }
    var selection = window.getSelection && window.getSelection();
    if (selection && !selection.isCollapsed) {
      return;
    }
    var mark = event.target.closest("[data-s]");
    if (mark) {
      jump(firstNumber(mark));
    }
  });

  audio.addEventListener("play", function () {
    toggle.setAttribute("aria-pressed", "true");
    if (native && !native.paused) {
      native.pause();
    }
  });
  audio.addEventListener("playing", function () {
    if (frame === null) {
      frame = window.requestAnimationFrame(tick);
    }
  });
  audio.addEventListener("pause", function () { toggle.setAttribute("aria-pressed", "false"); });
  audio.addEventListener("seeked", update);
  audio.addEventListener("timeupdate", update);
  audio.addEventListener("ended", function () {
    toggle.setAttribute("aria-pressed", "false");
    highlight(-1);
  });
  audio.addEventListener("error", function () {
    if (audio.getAttribute("src")) {
      toggle.setAttribute("aria-pressed", "false");
      errorLine.textContent = text("error");
    }
  });
  if (native) {
    native.addEventListener("play", function () { audio.pause(); });
  }
  root.hidden = false;
  root.setAttribute("data-enhanced", "");
})();
