// slokit dashboard: draws every [data-figure] chart from its JSON island with plotly.js
// (served by the dashboard itself), and opens a run when one of its points is clicked.
(function () {
  "use strict";
  function draw() {
    var configEl = document.getElementById("plotly-config");
    var config = configEl ? JSON.parse(configEl.textContent) : {};
    // On a phone the mode bar would cover the chart titles; a double tap still resets the zoom.
    if (window.matchMedia && window.matchMedia("(max-width: 600px)").matches) {
      config.displayModeBar = false;
    }
    var charts = document.querySelectorAll("[data-figure]");
    for (var i = 0; i < charts.length; i++) {
      var el = charts[i];
      var figure = JSON.parse(document.getElementById(el.getAttribute("data-figure")).textContent);
      Plotly.newPlot(el, figure.data, figure.layout, config);
      if (el.hasAttribute("data-run-links")) {
        el.on("plotly_click", function (event) {
          var point = event && event.points && event.points[0];
          if (point && point.customdata !== undefined) {
            window.location.href = "/runs/" + encodeURIComponent(point.customdata);
          }
        });
      }
    }
  }
  if (typeof Plotly === "undefined") {
    return;
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
