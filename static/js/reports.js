/* The email reports page (mailboxes/reports/): draws the line over time and the bars per
   group with the vendored Chart.js, from the JSON the page carries in #report-chart-data's
   data-chart attribute (no inline script: the CSP forbids it). Drawn again whenever htmx swaps the results in. */
(function () {
  "use strict";
  var COLOURS = ["#0b6bcb", "#067647", "#b54708", "#6941c6", "#b42318"];
  var charts = [];

  function dataset(d, i, kind) {
    var colour = COLOURS[i % COLOURS.length];
    return {
      label: d.label,
      data: d.data,
      borderColor: colour,
      backgroundColor: colour,
      tension: 0,
      spanGaps: true,
    };
  }

  function draw(id, kind, spec, percent) {
    var canvas = document.getElementById(id);
    if (!canvas || !window.Chart) return;
    var chart = new window.Chart(canvas, {
      type: kind,
      data: {
        labels: spec.labels,
        datasets: spec.datasets.map(function (d, i) { return dataset(d, i, kind); }),
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          y: {
            beginAtZero: true,
            ticks: percent ? { callback: function (v) { return v + "%"; } } : { precision: 0 },
          },
        },
        plugins: { legend: { position: "bottom" } },
      },
    });
    charts.push(chart);
  }

  function render() {
    var source = document.getElementById("report-chart-data");
    if (!source) return;
    charts.forEach(function (c) { c.destroy(); });
    charts = [];
    var spec = JSON.parse(source.getAttribute("data-chart"));
    draw("report-line", "line", spec.line, false);
    draw("report-bars", "bar", spec.bars, true);
    document.body.setAttribute("data-report-drawn", String(Date.now()));
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawnFrom = document.getElementById("report-chart-data");
    render();
  });
  // The results are swapped whole (outerHTML): draw whenever new chart data came in.
  var drawnFrom = null;
  document.addEventListener("htmx:afterSettle", function () {
    var source = document.getElementById("report-chart-data");
    if (source && source !== drawnFrom) { drawnFrom = source; render(); }
  });
})();
