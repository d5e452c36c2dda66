// Click (or Enter) on a short hash copies the full hash to the clipboard.
document.addEventListener("click", (event) => copyFrom(event.target.closest("[data-copy]")));
document.addEventListener("keydown", (event) => {
  if (event.key === "Enter") copyFrom(event.target.closest("[data-copy]"));
});

function copyFrom(element) {
  if (!element) return;
  const text = element.dataset.copy;
  const done = () => {
    element.classList.add("copied");
    setTimeout(() => element.classList.remove("copied"), 1200);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => window.prompt("Copy the hash:", text));
  } else {
    window.prompt("Copy the hash:", text);
  }
}
