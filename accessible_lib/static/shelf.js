// A signed-in reader's place in a chapter, kept on the server so they can continue on another device:
// the paragraph at the top of the window, sent when the reader stops scrolling and when the page is left.
// Without this script the visit itself records the chapter (web/shelf_places.py); nothing else depends on
// it. Paragraphs are counted as the server counts them: every <p> of the chapter's text, not the notes and
// links the shelf adds after them.
(function () {
  "use strict";
  var script = document.querySelector("script[data-shelf-reading]");
  var article = document.querySelector("article.chapter");
  if (!script || !article || !window.fetch) {
    return;
  }
  var paragraphs = Array.prototype.slice.call(
    article.querySelectorAll("p:not(.bookmark-mark):not(.bookmark-this)"));
  var sent = null;
  var timer = null;

  function current() {
    for (var i = 0; i < paragraphs.length; i++) {
      if (paragraphs[i].getBoundingClientRect().bottom > 0) {
        return i + 1;
      }
    }
    return paragraphs.length || null;
  }

  function send() {
    var paragraph = current();
    if (paragraph === null || paragraph === sent) {
      return;
    }
    sent = paragraph;
    try {
      window.fetch("/account/shelf/reading", {
        method: "POST", credentials: "same-origin", keepalive: true,
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          book: parseInt(script.getAttribute("data-book"), 10),
          chapter: parseInt(script.getAttribute("data-chapter"), 10),
          paragraph: paragraph,
          csrf_token: script.getAttribute("data-csrf")
        })
      }).catch(function () { /* offline: the visit was recorded */ });
    } catch (e) { /* no keepalive support */ }
  }

  window.addEventListener("scroll", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(send, 1500);
  }, { passive: true });
  window.addEventListener("pagehide", send);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") {
      send();
    }
  });
}());
