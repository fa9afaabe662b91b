/* Cost charts. The page puts the numbers in a json_script element ("cost-chart-data"):
   {charts: [{element, type: "bar" | "line", stacked, currency, series: [{name, x, y}]}]}.
   Amounts arrive as decimal strings (money is Decimal until the JSON boundary); Plotly reads
   them as numbers. No inline script, so the Content-Security-Policy needs no exception. The
   tables on each page show the same figures for keyboards and screen readers. */
(function () {
  "use strict";

  var charts = window.PropylonCharts;
  var text = charts.text;
  var texts = charts.texts;

  function draw(data) {
    var config = charts.config;
    (data.charts || []).forEach(function (chart) {
      var element = document.getElementById(chart.element);
      if (!element || !chart.series || chart.series.length === 0) {
        return;
      }
      var traces = chart.series.map(function (series) {
        var trace = {
          name: text(series.name),
          x: texts(series.x),
          y: series.y.map(Number),
          type: chart.type === "line" ? "scatter" : "bar",
          hovertemplate: "%{x}: %{y:,.2f}" + (chart.currency ? " " + text(chart.currency) : "") + "<extra>%{fullData.name}</extra>"
        };
        if (chart.type === "line") {
          trace.mode = "lines+markers";
        }
        return trace;
      });
      window.Plotly.newPlot(
        element,
        traces,
        {
          barmode: chart.stacked ? "stack" : "group",
          font: charts.font,
          margin: { t: 10, r: 10, b: 40, l: 60 },
          yaxis: { rangemode: "tozero", title: text(chart.currency || "") },
          xaxis: { type: "category" },
          legend: { orientation: "h", y: -0.2 }
        },
        config
      );
    });
  }

  charts.onData("cost-chart-data", draw);
})();
