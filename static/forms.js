/* The forms of the back office (templates/admin/_form.html), on every page:
   - 字数 counters: under every textarea with a maxlength (the server's Length limit), and every
     field with data-minlength or data-counter, "已输入 23/100 字" as the user types; a short
     input with a maxlength only shows its counter once 80% of the limit is used. Characters are
     counted as the server counts them (code points, a line break is one);
   - a month field with data-not-before="start_month" cannot be picked before that field's month;
   - the rows added with "添加 项目成员" get their labels bound to their own inputs (Flask-Admin's
     form.js renames the inputs of the blank row, not the labels) and their counters.
   Loaded once even if a page includes it twice. */
(function () {
  "use strict";
  if (window.kjForms) { return; }

  var TEXTUAL = /^(text|search|tel|url|email|textarea)$/;

  function length(value) {
    return Array.from ? Array.from(value).length : value.length;
  }

  function limits(el) {
    var max = parseInt(el.getAttribute("maxlength"), 10);
    var min = parseInt(el.getAttribute("data-minlength"), 10);
    return { max: max > 0 ? max : 0, min: min > 0 ? min : 0 };
  }

  function sentence(n, lim) {
    var text = "已输入 " + n + (lim.max ? "/" + lim.max : "") + " 字";
    if (lim.max && n > lim.max) { return text + "，超出 " + (n - lim.max) + " 字"; }
    if (lim.min && n < lim.min) { return text + "，至少 " + lim.min + " 字" + (lim.max ? "（应为 " + lim.min + "–" + lim.max + " 字）" : ""); }
    return text;
  }

  function update(el) {
    var counter = el.kjCounter;
    if (!counter) { return; }
    var lim = limits(el);
    var n = length(el.value || "");
    counter.textContent = sentence(n, lim);
    counter.classList.toggle("kj-over", !!lim.max && n > lim.max);
    counter.classList.toggle("kj-short", !!lim.min && n > 0 && n < lim.min);
    if (!counter.kjAlways) { counter.hidden = !(lim.max && n >= lim.max * 0.8); }
  }

  function attach(el) {
    if (el.kjCounter || !TEXTUAL.test(el.type || el.tagName.toLowerCase())) { return; }
    var lim = limits(el);
    if (!lim.max && !lim.min) { return; }
    var counter = document.createElement("small");
    counter.className = "form-text kj-counter";
    counter.id = (el.id || el.name) + "-counter";
    counter.setAttribute("aria-live", "polite");
    counter.kjAlways = el.tagName === "TEXTAREA" || !!lim.min || el.hasAttribute("data-counter");
    el.kjCounter = counter;
    el.parentNode.insertBefore(counter, el.nextSibling);
    var described = el.getAttribute("aria-describedby");
    el.setAttribute("aria-describedby", (described ? described + " " : "") + counter.id);
    update(el);
  }

  function notBefore(el) {
    var other = document.getElementById(el.getAttribute("data-not-before"));
    if (el.kjMin === undefined) { el.kjMin = el.min || ""; }
    if (other) { el.min = other.value || el.kjMin; }
  }

  function scan(root) {
    var fields = root.querySelectorAll("textarea[maxlength], input[maxlength], textarea[data-minlength], input[data-minlength]");
    for (var i = 0; i < fields.length; i++) { attach(fields[i]); }
    var months = root.querySelectorAll("[data-not-before]");
    for (var j = 0; j < months.length; j++) { notBefore(months[j]); }
  }

  /* a row cloned from the blank template: its inputs are called members-2-name, its labels still say for="name" */
  function bindLabels(row) {
    var labels = row.querySelectorAll("label[for]");
    for (var i = 0; i < labels.length; i++) {
      var target = row.id + "-" + labels[i].getAttribute("for");
      if (row.querySelector("[id='" + target.replace(/'/g, "") + "']")) { labels[i].setAttribute("for", target); }
    }
  }

  function hookInlineRows() {
    var fa = window.faForm;
    if (!fa || !fa.addInlineField || fa.addInlineField.kjWrapped) { return; }
    var original = fa.addInlineField;
    fa.addInlineField = function (el, elID) {
      var result = original.apply(this, arguments);
      var holder = el && el.closest ? el.closest(".inline-field") : null;
      var list = holder ? holder.querySelector(".inline-field-list") : null;
      var row = list ? list.lastElementChild : null;
      if (row) {
        bindLabels(row);
        scan(row);
      }
      return result;
    };
    fa.addInlineField.kjWrapped = true;
  }

  document.addEventListener("input", function (e) {
    if (e.target && e.target.kjCounter) { update(e.target); }
  });
  document.addEventListener("change", function (e) {
    var t = e.target;
    if (!t || !t.id) { return; }
    var dependants = document.querySelectorAll("[data-not-before='" + t.id.replace(/'/g, "") + "']");
    for (var i = 0; i < dependants.length; i++) { notBefore(dependants[i]); }
  });

  function ready() {
    scan(document);
    hookInlineRows();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
  /* Flask-Admin's form.js may come after this file: it says when it is ready */
  if (window.jQuery) { window.jQuery(document).on("adminFormReady", hookInlineRows); }

  window.kjForms = { scan: scan, update: update };
})();
