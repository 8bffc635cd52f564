// Filters the loss tables of the atlas index. Without JavaScript the form stays hidden and
// every row is shown; with it, rows that do not match the family, smoothness, name and
// property filters are hidden, and so is a family group left with no visible row.
(function () {
  "use strict";
  var form = document.getElementById("filters");
  if (!form) return;
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr[data-family]"));
  var groups = document.querySelectorAll("tbody[data-group]");
  var boxes = Array.prototype.slice.call(form.querySelectorAll("input[type=checkbox]"));
  var count = document.getElementById("filter-count");
  function apply() {
    var family = form.elements.family.value;
    var smooth = form.elements.smoothness.value;
    var text = form.elements.q.value.trim().toLowerCase();
    var wanted = boxes.filter(function (b) { return b.checked; });
    var shown = 0, total = 0;
    rows.forEach(function (row) {
      var d = row.dataset;
      var ok = (!family || d.family === family) && (!smooth || d.smoothness === smooth) &&
        (!text || d.names.indexOf(text) >= 0) &&
        wanted.every(function (b) { return d[b.name] === "yes"; });
      row.hidden = !ok;
      if (row.closest("#catalogue-table")) { total += 1; shown += ok ? 1 : 0; }
    });
    Array.prototype.forEach.call(groups, function (g) {
      g.hidden = !g.querySelector("tr[data-family]:not([hidden])");
    });
    count.textContent = "Showing " + shown + " of " + total + " losses";
  }
  form.addEventListener("input", apply);
  form.addEventListener("change", apply);
  form.addEventListener("reset", function () { window.setTimeout(apply, 0); });
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  form.hidden = false;
  apply();
})();
