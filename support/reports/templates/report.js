/* Filters by status and tag. The state lives in the URL hash (#status=failed&tag=@auth)
   so a filtered view can be linked to, and the page works without script (all shown). */
(function () {
  "use strict";
  var scenarios = Array.prototype.slice.call(document.querySelectorAll("article.scenario"));
  var features = Array.prototype.slice.call(document.querySelectorAll("section.feature"));
  var buttons = Array.prototype.slice.call(document.querySelectorAll("a.status-filter"));
  var tagSelect = document.getElementById("tag-filter");
  var shownCount = document.getElementById("shown-count");

  function readState() {
    var params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    return { status: params.get("status") || "all", tag: params.get("tag") || "" };
  }

  function writeState(state) {
    var params = new URLSearchParams();
    if (state.status && state.status !== "all") { params.set("status", state.status); }
    if (state.tag) { params.set("tag", state.tag); }
    var hash = params.toString();
    window.location.hash = hash ? hash : "status=all";
  }

  function apply() {
    var state = readState();
    var shown = 0;
    scenarios.forEach(function (scenario) {
      var tags = (scenario.getAttribute("data-tags") || "").split(" ");
      var statusOk = state.status === "all" || scenario.getAttribute("data-status") === state.status;
      var tagOk = !state.tag || tags.indexOf(state.tag) !== -1;
      scenario.hidden = !(statusOk && tagOk);
      if (!scenario.hidden) { shown += 1; }
    });
    features.forEach(function (feature) {
      feature.hidden = !feature.querySelector("article.scenario:not([hidden])");
    });
    buttons.forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.getAttribute("data-status") === state.status));
    });
    if (tagSelect) { tagSelect.value = state.tag; }
    if (shownCount) {
      shownCount.textContent = shown + " of " + scenarios.length + " scenarios shown";
    }
    document.body.setAttribute("data-filter-status", state.status);
    document.body.setAttribute("data-filter-tag", state.tag);
  }

  buttons.forEach(function (button) {
    button.addEventListener("click", function (event) {
      event.preventDefault();
      var state = readState();
      state.status = button.getAttribute("data-status");
      writeState(state);
    });
  });
  if (tagSelect) {
    tagSelect.addEventListener("change", function () {
      var state = readState();
      state.tag = tagSelect.value;
      writeState(state);
    });
  }
  var toggle = document.getElementById("toggle-steps");
  if (toggle) {
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("data-open") !== "true";
      document.querySelectorAll("article.scenario > details").forEach(function (details) {
        details.open = open;
      });
      toggle.setAttribute("data-open", String(open));
      toggle.textContent = open ? "Fold passed scenarios" : "Show all steps";
      if (!open) {
        document.querySelectorAll("article.scenario[data-status='failed'] > details").forEach(function (details) {
          details.open = true;
        });
      }
    });
  }
  window.addEventListener("hashchange", apply);
  apply();
}());
