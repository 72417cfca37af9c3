// The thread view: "Show images" loads one email's frame with its images (the link targets
// the frame by name, so it works without JavaScript too); here its note and button go away.
document.addEventListener("click", function (event) {
  var show = event.target.closest("[data-show-images]");
  if (!show) return;
  var banner = show.closest("[data-images-banner]");
  if (banner) banner.classList.add("shown");
});

// "Close" takes a thread opened in the timeline out again (it was loaded into the email's
// slot); the thread's own page has no Close, its back link leads to the record.
document.addEventListener("click", function (event) {
  var close = event.target.closest("[data-close-thread]");
  if (!close) return;
  var thread = close.closest(".thread");
  if (thread) thread.remove();
});
