// Home page: a small bar chart of entries per day for each ledger (data from a JSON script tag).
(function () {
  const source = document.getElementById("activity-data");
  if (!source || typeof Chart === "undefined") return;
  const activity = JSON.parse(source.textContent);
  document.querySelectorAll(".activity-chart canvas[data-ledger]").forEach((canvas) => {
    const counts = activity.ledgers[canvas.dataset.ledger] || [];
    new Chart(canvas, {
      type: "bar",
      data: { labels: activity.days, datasets: [{ label: "entries", data: counts, backgroundColor: "#3c71b8" }] },
      options: {
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { display: false } },
        scales: { x: { display: false }, y: { display: false, beginAtZero: true } },
      },
    });
  });
})();
