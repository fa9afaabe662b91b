/* The maturity tab's charts: the dimension vector (bars against what is possible) and the
   trend of readiness and dimension scores across versions. The numbers come from the page
   (json_script), so the CSP needs no inline script; the tables show the same numbers. */
(function () {
  "use strict";

  var charts = window.PropylonCharts;
  var text = charts.text;
  var texts = charts.texts;

  function draw(data) {
    var config = charts.config;
    var font = charts.font;

    var vector = document.getElementById("maturity-vector");
    if (vector) {
      window.Plotly.newPlot(
        vector,
        [
          { type: "bar", name: "Possible", x: texts(data.dimensions), y: data.max, marker: { color: "#e3e7f1" }, hoverinfo: "y" },
          { type: "bar", name: "Score", x: texts(data.dimensions), y: data.scores, marker: { color: "#3b5bdb" } }
        ],
        {
          barmode: "overlay",
          font: font,
          margin: { t: 10, r: 10, b: 110, l: 40 },
          yaxis: { rangemode: "tozero", dtick: 1 },
          legend: { orientation: "h", y: 1.12 },
          shapes: data.readiness === null ? [] : [
            { type: "line", xref: "paper", x0: 0, x1: 1, y0: data.readiness, y1: data.readiness, line: { color: "#c92a2a", dash: "dot" } }
          ]
        },
        config
      );
    }

    var trend = document.getElementById("maturity-trend");
    if (trend) {
      var traces = [
        { type: "scatter", mode: "lines+markers", name: "Readiness", x: texts(data.trend.labels), y: data.trend.readiness, line: { width: 4, color: "#c92a2a" } }
      ];
      data.trend.series.forEach(function (series) {
        traces.push({ type: "scatter", mode: "lines", name: text(series.name), x: texts(data.trend.labels), y: series.values, opacity: 0.6 });
      });
      window.Plotly.newPlot(
        trend,
        traces,
        { font: font, margin: { t: 10, r: 10, b: 60, l: 40 }, yaxis: { rangemode: "tozero", dtick: 1 }, legend: { font: { size: 10 } } },
        config
      );
    }
  }

  charts.onData("maturity-chart-data", draw);
})();
