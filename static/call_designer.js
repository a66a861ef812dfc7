/* The call designer (申报批次, issue #14): add, remove and move the rows of 限额规则 and 自定义字段,
   keep each band's shown upper bound (the next band's lower), offer the limits and the 字典 only
   where the field's type has them, and name the 模块配置 module of the chosen 申报类型.
   Without this script the page still edits the existing rows (a spare blank row, 删除 ticks). */
(function () {
  "use strict";
  var designer = document.getElementById("call-designer");
  if (!designer) { return; }

  var HINTS = { text: "字数", textarea: "字数", number: "数值", date: "日期，如 2026-01-31", month: "年月，如 2026-01" };

  function each(list, fn) { Array.prototype.forEach.call(list, fn); }
  function show(root) { each(root.querySelectorAll(".cd-js-only"), function (el) { el.hidden = false; }); }

  /* rows are <tbody> elements named prefix-<n>-…; after a change they are numbered again from 0 */
  function renumber(table, prefix, what) {
    each(table.querySelectorAll("tbody"), function (body, i) {
      var n = i + 1;
      each(body.querySelectorAll("[name]"), function (el) {
        el.name = el.name.replace(new RegExp("^" + prefix + "-\\d+-"), prefix + "-" + i + "-");
      });
      each(body.querySelectorAll("[aria-label]"), function (el) {
        el.setAttribute("aria-label", el.getAttribute("aria-label").replace(/^(删除)?第 \d+ /, function (m, del) { return (del || "") + "第 " + n + " "; }));
      });
      var num = body.querySelector(".cd-num");
      if (num && num.firstChild && num.firstChild.nodeType === 3) { num.firstChild.nodeValue = String(n); }
    });
    if (what) { what(); }
  }

  function rowsEditor(tableId, addId, prefix, after) {
    var table = document.getElementById(tableId);
    if (!table) { return; }
    var spare = table.querySelector("tbody.cd-spare");
    var template = spare.cloneNode(true);
    template.classList.remove("cd-spare");
    spare.parentNode.removeChild(spare);
    show(table.parentNode.parentNode);
    each(table.querySelectorAll(".cd-no-js"), function (el) { el.hidden = true; });
    template.querySelectorAll(".cd-no-js").forEach(function (el) { el.hidden = true; });
    function done() { renumber(table, prefix, after); }
    document.getElementById(addId).addEventListener("click", function () {
      var row = template.cloneNode(true);
      show(row);
      table.appendChild(row);
      done();
      var first = row.querySelector("input:not([type=hidden]), select");
      if (first) { first.focus(); }
    });
    table.addEventListener("click", function (event) {
      var button = event.target.closest("button");
      if (!button) { return; }
      var body = button.closest("tbody");
      if (button.classList.contains("cd-del")) {
        body.parentNode.removeChild(body);
      } else if (button.classList.contains("cd-up") && body.previousElementSibling && body.previousElementSibling.tagName === "TBODY") {
        body.parentNode.insertBefore(body, body.previousElementSibling);
      } else if (button.classList.contains("cd-down") && body.nextElementSibling) {
        body.parentNode.insertBefore(body.nextElementSibling, body);
      } else {
        return;
      }
      done();
      button.focus();
    });
    done();
    return table;
  }

  /* 限额规则: the upper bound of a band is the next band's lower bound */
  function uppers() {
    var bodies = document.querySelectorAll("#quota-table tbody");
    each(bodies, function (body, i) {
      var next = bodies[i + 1] && bodies[i + 1].querySelector(".cd-lower");
      var value = next ? next.value.trim() : "";
      body.querySelector(".cd-upper").textContent = value || "不设上限";
    });
  }
  var quota = rowsEditor("quota-table", "quota-add", "quota_rule", uppers);
  if (quota) {
    quota.addEventListener("input", uppers);
    var rows = document.getElementById("quota-rows");
    var modes = document.querySelectorAll("input[name=quota_rule]");
    var mode = function () {
      var none = document.getElementById("quota_rule-none");
      rows.hidden = none && none.checked;
    };
    each(modes, function (el) { el.addEventListener("change", mode); });
    mode();
  }

  /* 自定义字段: limits only for text, numbers and dates; a 字典 only for 下拉选择 */
  function fitType(body) {
    var type = body.querySelector(".cd-type").value;
    var limited = Object.prototype.hasOwnProperty.call(HINTS, type);
    each(body.querySelectorAll(".cd-limit"), function (el) {
      el.disabled = !limited;
      el.placeholder = limited ? HINTS[type] : "不适用";
    });
    var dict = body.querySelector(".cd-dict");
    dict.disabled = type !== "select";
  }
  var fields = rowsEditor("fields-table", "field-add", "form_fields", function () {
    each(document.querySelectorAll("#fields-table tbody"), fitType);
  });
  if (fields) {
    fields.addEventListener("change", function (event) {
      if (event.target.classList.contains("cd-type")) { fitType(event.target.closest("tbody")); }
    });
    /* disabled inputs are not posted: enable them again so a refused save keeps what was typed */
    designer.closest("form").addEventListener("submit", function () {
      each(designer.querySelectorAll(".cd-limit, .cd-dict"), function (el) { el.disabled = false; });
    });
  }

  /* 申报类型: the module a 填报用户 needs; a 技术创新项目 call starts with the enterprise natures */
  var type = document.getElementById("type");
  var modules = JSON.parse(designer.getAttribute("data-modules") || "{}");
  var enterprise = (designer.getAttribute("data-enterprise-natures") || "").split(",");
  function typeChanged() {
    var label = document.getElementById("cd-module");
    if (label && modules[type.value]) { label.textContent = modules[type.value]; }
    var natures = document.querySelectorAll("input[name=applicant_natures]");
    var ticked = Array.prototype.some.call(natures, function (el) { return el.checked; });
    if (type.value === "tech_innovation" && !ticked) {
      each(natures, function (el) { el.checked = enterprise.indexOf(el.value) >= 0; });
    }
  }
  if (type) {
    if (window.jQuery) { window.jQuery(type).on("change", typeChanged); } else { type.addEventListener("change", typeChanged); }
  }
})();
