// Live updates: the hub sends its change mark over /events; when it moves past the mark this page
// was made from, the page reloads, unless someone is typing in one of its forms. Without
// JavaScript the pages work the same and show when their data was read, with a reload link.
(function () {
  if (!window.EventSource) return;
  var mark = document.body.getAttribute("data-mark");
  var live = document.getElementById("live");
  var editing = false;
  document.addEventListener("input", function () { editing = true; });
  var source = new EventSource("/events");
  source.onopen = function () { if (live) live.hidden = false; };
  source.onmessage = function (event) {
    if (event.data === mark) return;
    if (editing) { mark = event.data; if (live) live.textContent = "· có số liệu mới: tải lại trang"; return; }
    source.close();
    window.location.reload();
  };
})();
