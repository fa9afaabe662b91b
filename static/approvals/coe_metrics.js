/* The CoE metrics page's charts: queue length per day stacked by risk tier, and the median and
   90th percentile time to decision per gate and tier. The numbers come from the page
   (json_script), so the CSP needs no inline script; the page's tables show the same numbers. */
(function () {
  "use strict";

  var charts = window.PropylonCharts;
  var text = charts.text;
  var texts = charts.texts;

  var COLOURS = charts.colours;

  function draw(data) {
    var config = charts.config;
    var font = charts.font;

    var queue = document.getElementById("coe-queue-chart");
    if (queue) {
      window.Plotly.newPlot(
        queue,
        data.queue.map(function (tier) {
          return {
            type: "scatter", mode: "lines", stackgroup: "tiers", name: text(tier.tier),
            x: texts(data.days), y: tier.counts, line: { color: COLOURS[tier.colour] || COLOURS.grey, shape: "hv" }
          };
        }),
        {
          font: font, margin: { t: 10, r: 10, b: 40, l: 40 },
          yaxis: { rangemode: "tozero", title: { text: "waiting" } },
          legend: { orientation: "h", y: 1.12 }
        },
        config
      );
    }

    var decisions = document.getElementById("coe-decision-chart");
    if (decisions) {
      var labels = data.decisions.map(function (group) { return text(group.label); });
      window.Plotly.newPlot(
        decisions,
        [
          { type: "bar", name: "Median", x: labels, y: data.decisions.map(function (g) { return g.median; }), marker: { color: "#3b5bdb" } },
          { type: "bar", name: "90th percentile", x: labels, y: data.decisions.map(function (g) { return g.p90; }), marker: { color: "#bac8ff" } }
        ],
        {
          barmode: "group", font: font, margin: { t: 10, r: 10, b: 90, l: 50 },
          yaxis: { rangemode: "tozero", title: { text: "hours" } },
          legend: { orientation: "h", y: 1.12 }
        },
        config
      );
    }
  }

  charts.onData("coe-metrics-data", draw);
})();
