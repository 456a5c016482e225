// The answer page's behaviour in the browser (the chat HTML itself carries no script):
// - a citation marker shows its source: in the Sources panel when the panel is beside the chat,
//   else in the reference list under the answer (a phone); a reference's back-link returns to
//   its first marker;
// - "Copy" copies the answer's Markdown (kept in a hidden <pre> of the answer);
// - each new answer is shown from its title (the chat does not scroll to its end);
// - the question box counts its characters against the limit.
(function () {
  "use strict";

  function flash(el) {
    el.classList.add("active");
    window.setTimeout(function () { el.classList.remove("active"); }, 2500);
  }

  function focusQuietly(el) {
    if (!el.hasAttribute("tabindex")) el.setAttribute("tabindex", "-1");
    el.focus({ preventScroll: true });
  }

  function panelBesideChat() {
    var panel = document.getElementById("sources-panel");
    var chat = document.getElementById("chat");
    if (!panel || !chat || panel.offsetParent === null) return false;
    var p = panel.getBoundingClientRect();
    var c = chat.getBoundingClientRect();
    return p.left >= c.right - 1 && p.top < window.innerHeight && p.bottom > 0;
  }

  function showInPanel(n) {
    var panel = document.getElementById("sources-panel");
    var target = panel ? panel.querySelector('[id="ref-' + n + '"]') : null;
    if (!target) return false;
    panel.querySelectorAll("li.active").forEach(function (el) { el.classList.remove("active"); });
    target.classList.add("active");
    target.scrollIntoView({ behavior: "smooth", block: "center" });
    focusQuietly(target);
    return true;
  }

  function showUnderAnswer(id) {
    var target = document.getElementById(id);
    if (!target) return false;
    var details = target.querySelector("details");
    if (details) details.open = true;
    // from its start: with its passage open a reference can be taller than the chat
    target.scrollIntoView({ behavior: "smooth", block: "start" });
    flash(target);
    focusQuietly(target);
    return true;
  }

  function onMarker(link) {
    var id = (link.getAttribute("href") || "").replace(/^#/, "");
    var m = /^(?:[a-z0-9-]*-)?ref-([0-9]+)$/.exec(id);
    if (!m) return;
    if (panelBesideChat() && showInPanel(m[1])) return;
    if (!showUnderAnswer(id)) showInPanel(m[1]);
  }

  function onBackLink(link) {
    var id = (link.getAttribute("href") || "").replace(/^#/, "");
    if (!/^[a-z0-9-]*cite-[0-9]+$/.test(id)) return;
    var marker = document.getElementById(id);
    if (!marker) return;
    marker.scrollIntoView({ behavior: "smooth", block: "center" });
    flash(marker);
    focusQuietly(marker);
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) { // plain http on another host
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      var ok = document.execCommand("copy");
      document.body.removeChild(area);
      if (ok) resolve(); else reject(new Error("copy refused"));
    });
  }

  function onCopy(button) {
    var answer = button.closest(".answer");
    var source = answer ? answer.querySelector("pre.copy-source") : null;
    if (!source) return;
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    copyText(source.textContent).then(
      function () { button.textContent = "Copied"; },
      function () { button.textContent = "Copy failed: select the text instead"; }
    ).then(function () {
      window.setTimeout(function () { button.textContent = label; }, 2000);
    });
  }

  document.addEventListener(
    "click",
    function (event) {
      var el = event.target;
      if (!el || !el.closest) return;
      var marker = el.closest("a.cite");
      var back = marker ? null : el.closest("a.backref");
      var copy = marker || back ? null : el.closest("button.copy-answer");
      if (!marker && !back && !copy) return;
      event.preventDefault();
      event.stopPropagation();
      if (marker) onMarker(marker);
      else if (back) onBackLink(back);
      else onCopy(copy);
    },
    true
  );

  // -- each new question is shown at the top of the chat, so its answer reads from the title --
  // The chat is not autoscrolled (it would land on the disclaimer). A new question is pinned to
  // the top of the chat while its answer streams in (the content below it is short at first,
  // so one scroll is not enough), until the answer is complete or the reader scrolls.
  var questionsSeen = 0;
  var pinned = null;

  function scroller(el) {
    for (var e = el.parentElement; e; e = e.parentElement) {
      var style = window.getComputedStyle(e);
      if (/(auto|scroll)/.test(style.overflowY)) return e;
    }
    return null;
  }

  function keepPinned() {
    if (!pinned || !pinned.isConnected) { pinned = null; return; }
    var box = scroller(pinned);
    if (box) {
      var offset = pinned.getBoundingClientRect().top - box.getBoundingClientRect().top - 4;
      if (Math.abs(offset) > 1) box.scrollTop += offset;
    }
    var answers = document.querySelectorAll("#chat .answer");
    var last = answers[answers.length - 1];
    if (last && last.querySelector(".copy-answer, .error")) pinned = null; // complete
  }

  function showLatestQuestion() {
    var questions = document.querySelectorAll("#chat .question");
    var grew = questions.length > questionsSeen;
    questionsSeen = questions.length;
    if (grew) {
      var latest = questions[questions.length - 1];
      pinned = latest.closest(".message-row") || latest.closest(".message") || latest;
      var chat = document.getElementById("chat");
      if (chat) {
        var r = chat.getBoundingClientRect();
        if (r.top < 0 || r.top > window.innerHeight / 2) chat.scrollIntoView({ block: "start" });
      }
    }
    keepPinned();
  }

  ["wheel", "touchmove", "keydown"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      if (pinned && event.target && event.target.closest && event.target.closest("#chat")) {
        pinned = null; // the reader scrolls: leave the chat where they put it
      }
    }, { passive: true });
  });

  // -- the question box's character counter --
  function updateCounter() {
    var box = document.querySelector("#question textarea");
    var counter = document.getElementById("question-count");
    if (!box || !counter) return;
    var limit = Number(counter.getAttribute("data-limit")) || 2000;
    var n = box.value.length;
    var text = n.toLocaleString("en") + " / " + limit.toLocaleString("en") + " characters" +
      (n >= limit ? ": the limit" : "");
    // only on a change: this runs from a MutationObserver, and writing is a mutation
    if (counter.textContent !== text) counter.textContent = text;
    if (counter.classList.contains("at-limit") !== n >= limit) {
      counter.classList.toggle("at-limit", n >= limit);
    }
  }

  document.addEventListener("input", function (event) {
    if (event.target && event.target.closest && event.target.closest("#question")) updateCounter();
  });

  function start() {
    new MutationObserver(function () {
      showLatestQuestion();
      updateCounter(); // the box is also emptied by the app after a question
    }).observe(document.body, { subtree: true, childList: true });
  }
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
