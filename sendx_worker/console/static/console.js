// The one script: a "select the page" checkbox. Everything else works without JavaScript.
document.addEventListener("DOMContentLoaded", function () {
  var all = document.getElementById("select-all");
  if (!all) return;
  all.hidden = false;
  all.addEventListener("change", function () {
    document.querySelectorAll('#dead-letters input[name="id"]').forEach(function (box) {
      box.checked = all.checked;
    });
  });
});
