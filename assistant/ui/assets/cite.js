// Citation markers in answers link to the Sources panel: scroll to the source and mark it.
(function () {
  function showSource(n) {
    var panel = document.getElementById("sources-panel");
    if (!panel || !/^[0-9]+$/.test(n)) return false;
    var target = panel.querySelector('[id="ref-' + n + '"]');
    if (!target) return false;
    panel.querySelectorAll("li.active").forEach(function (el) {
      el.classList.remove("active");
    });
    target.classList.add("active");
    target.setAttribute("tabindex", "-1");
    target.scrollIntoView({ behavior: "smooth", block: "center" });
    target.focus({ preventScroll: true });
    return true;
  }
  document.addEventListener(
    "click",
    function (event) {
      var el = event.target;
      var link = el && el.closest ? el.closest("a.cite") : null;
      if (!link) return;
      event.preventDefault();
      event.stopPropagation();
      var n = link.getAttribute("data-ref") || (link.getAttribute("href") || "").replace("#ref-", "");
      showSource(n);
    },
    true
  );
})();
