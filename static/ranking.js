/* 推荐排序 in the 申报书 list (seed 002 §4.4, §5.4): click the blue number, type the new place and
   press Enter (or leave the box) to save it through DeclarationView.rank_one_view; Esc cancels.
   The rows the change moved take their new places from the answer; a refusal shows in the cell.
   Loaded by templates/admin/declarations/list.html with the endpoint and the CSRF token. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.fetch) { return; }
  var url = script.getAttribute("data-rank-url");
  var token = script.getAttribute("data-csrf-token");

  function note(cell, text, ok, title) {
    var old = cell.querySelector(".rank-message");
    if (old) { old.parentNode.removeChild(old); }
    if (!text) { return; }
    var small = document.createElement("small");
    small.className = "rank-message d-block " + (ok ? "text-success" : "text-danger");
    small.setAttribute("role", ok ? "status" : "alert");
    small.textContent = text;
    if (title) { small.title = title; }
    cell.appendChild(small);
  }

  function show(button, value) {
    var text = value === null || value === undefined ? "" : String(value);
    button.setAttribute("data-rank-value", text);
    button.textContent = text || "设置";
  }

  function answerOf(response) {
    var type = response.headers.get("Content-Type") || "";
    if (type.indexOf("application/json") !== -1) {
      return response.json();
    }
    if (response.redirected || response.status === 200) {  // the session ended: the login page came back
      return { ok: false, message: "登录已失效，请刷新页面后重新登录" };
    }
    if (response.status === 404) {
      return { ok: false, message: "记录不存在或不在您的数据权限范围内" };
    }
    return { ok: false, message: "保存失败，请刷新页面后重试" };
  }

  function send(id, position) {
    var body = new FormData();
    body.append("id", id);
    body.append("position", position);
    body.append("csrf_token", token);
    return fetch(url, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRFToken": token, "Accept": "application/json" }
    }).then(answerOf).catch(function () {
      return { ok: false, message: "网络连接失败，排序未保存" };
    });
  }

  function edit(button) {
    var cell = button.parentNode;
    var before = button.getAttribute("data-rank-value");
    var input = document.createElement("input");
    var done = false;
    input.type = "number";
    input.min = "1";
    input.step = "1";
    input.value = before;
    input.className = "form-control form-control-sm rank-input";
    input.style.width = "5.5em";
    input.setAttribute("aria-label", "推荐排序序号");
    input.title = "输入序号后回车保存，按 Esc 键取消";

    function close() {
      done = true;
      if (input.parentNode) { input.parentNode.removeChild(input); }
      button.hidden = false;
    }
    function cancel(leaving) {
      if (done) { return; }
      close();
      if (!leaving) { button.focus(); }  // leaving the box: focus stays where the user put it
    }
    function save(leaving) {
      if (done) { return; }
      if (input.validity && input.validity.badInput) {  // not a number: the box reads it as empty
        if (leaving) { cancel(true); }
        note(cell, "请输入一个正整数序号", false);
        return;
      }
      var value = input.value.trim();
      if (value === "" || value === before) { cancel(leaving); return; }
      done = true;
      input.disabled = true;
      send(button.getAttribute("data-rank-id"), value).then(function (answer) {
        close();
        if (answer.ok) {
          var ranks = answer.ranks || {};
          Object.keys(ranks).forEach(function (id) {
            var other = document.querySelector('.rank-edit[data-rank-id="' + id + '"]');
            if (other) { show(other, ranks[id]); }
          });
          show(button, answer.rank);
          note(cell, "已保存", true, answer.message);
        } else {
          note(cell, answer.message || "保存失败，请刷新页面后重试", false);
        }
        if (!leaving) { button.focus(); }
      });
    }

    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); save(false); }
      else if (event.key === "Escape" || event.key === "Esc") { event.preventDefault(); cancel(false); }
    });
    input.addEventListener("blur", function () { save(true); });
    note(cell, "");
    button.hidden = true;
    cell.insertBefore(input, button.nextSibling);
    input.focus();
    input.select();
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button.rank-edit") : null;
    if (button && !button.hidden) {
      event.preventDefault();
      edit(button);
    }
  });
})();
