// The bulletin page's chart (ECharts, vendored): reads its data from the page's JSON block.
(function () {
  var holder = document.getElementById("chart");
  var source = document.getElementById("chart-data");
  if (!holder || !source || typeof echarts === "undefined") return;
  var d = JSON.parse(source.textContent);
  var chart = echarts.init(holder, null, { renderer: "canvas" });
  chart.setOption({
    animation: false,
    textStyle: { fontFamily: "WenQuanYi Micro Hei, Noto Sans CJK SC, Microsoft YaHei, sans-serif" },
    tooltip: { trigger: "axis" },
    legend: { data: ["受理", "办结", "办结率"], top: 0 },
    grid: { left: 50, right: 50, top: 40, bottom: 80 },
    xAxis: { type: "category", data: d.categories, axisLabel: { interval: 0, rotate: d.categories.length > 6 ? 35 : 0 } },
    yAxis: [
      { type: "value", name: "件" },
      { type: "value", name: "%", min: 0, max: 100, splitLine: { show: false } }
    ],
    series: [
      { name: "受理", type: "bar", data: d.accepted, barMaxWidth: 40, itemStyle: { color: "#5470c6" } },
      { name: "办结", type: "bar", data: d.completed, barMaxWidth: 40, itemStyle: { color: "#91cc75" } },
      { name: "办结率", type: "line", yAxisIndex: 1, data: d.rate, itemStyle: { color: "#b71c1c" } }
    ]
  });
  window.addEventListener("resize", function () { chart.resize(); });
  if (typeof ResizeObserver !== "undefined") new ResizeObserver(function () { chart.resize(); }).observe(holder);
})();
