/* The back office's page behaviour (templates/admin/layout_base.html, scoped_list.html,
   scoped_details.html): the sidebar, the 查询 form, the toolbar's bulk actions enabled on
   selection, the review dialog, delete confirmations, page size and jump-to-page.
   Everything also works as plain links and forms; this only makes it quicker. */
(function ($) {
  "use strict";
  if (!$) { return; }

  // -- sidebar: collapsed on wide screens (remembered), off-canvas on phones ------------------
  var PHONE = window.matchMedia("(max-width: 767.98px)");
  function setToggle() {
    var open = PHONE.matches ? document.body.classList.contains("sidebar-open") : !document.body.classList.contains("sidebar-collapsed");
    $("#sidebar-toggle").attr("aria-expanded", open ? "true" : "false");
  }
  try { if (!PHONE.matches && localStorage.getItem("sidebar-collapsed") === "1") { document.body.classList.add("sidebar-collapsed"); } } catch (e) { /* private mode */ }
  $(document).on("click", "#sidebar-toggle", function () {
    if (PHONE.matches) {
      document.body.classList.toggle("sidebar-open");
    } else {
      document.body.classList.toggle("sidebar-collapsed");
      try { localStorage.setItem("sidebar-collapsed", document.body.classList.contains("sidebar-collapsed") ? "1" : "0"); } catch (e) { /* ignore */ }
    }
    setToggle();
  });
  $(document).on("click", ".app-main", function () { if (PHONE.matches) { document.body.classList.remove("sidebar-open"); setToggle(); } });
  $(setToggle);

  // -- the 查询 form: empty fields are not sent ---------------------------------------------------
  $(document).on("submit", "#query-form", function () {
    $(this).find("input, select").each(function () {
      if (this.name && !this.value && this.type !== "submit") {
        var range = $(this).closest(".date-range");
        if (range.length && range.find("input").filter(function () { return this.value; }).length) { return; }
        this.disabled = true;
      }
    });
  });
  $(function () {
    if (!$.fn.select2) { return; }
    $("input.remote-filter").each(function () {
      var el = $(this);
      el.select2({
        placeholder: el.data("placeholder"), allowClear: true, minimumInputLength: 0, width: "100%",
        ajax: {
          url: el.data("url"), dataType: "json", quietMillis: 250,
          data: function (term) { return { q: term }; },
          results: function (data) { return { results: data.results || [] }; }
        },
        initSelection: function (element, callback) {
          var id = element.val();
          if (id) { callback({ id: id, text: el.data("text") || id }); }
        }
      });
    });
  });

  // -- selection: the toolbar's buttons work on the ticked rows ----------------------------------
  function checked() { return $("input.action-checkbox:checked"); }
  function refreshSelection() {
    var n = checked().length;
    $(".needs-selection").prop("disabled", n === 0);
    $("#selection-hint").text(n ? "已选择 " + n + " 条" : "未选择记录");
    $(".selected-count").text(n);
    var all = $("input.action-checkbox");
    $(".action-rowtoggle").prop("checked", all.length > 0 && n === all.length);
  }
  $(document).on("change", ".action-rowtoggle", function () {
    $("input.action-checkbox").prop("checked", this.checked);
    refreshSelection();
  });
  $(document).on("change", "input.action-checkbox", refreshSelection);
  $(refreshSelection);

  function submitAction(name) {
    var form = $("#action_form");
    form.find("input[name=rowid]").remove();
    checked().each(function () { $("<input type=hidden name=rowid>").val(this.value).appendTo(form); });
    form.find("input[name=action]").val(name);
    form.trigger("submit");
  }
  $(document).on("click", ".bulk-action", function () {
    var btn = $(this);
    if (!checked().length) { window.alert("请先选择要操作的记录"); return; }
    var question = btn.data("confirm");
    if (question && !window.confirm(question)) { return; }
    submitAction(btn.data("action")); // an action asking for a reason shows its confirmation page first
  });

  // -- the review dialog: 审核通过 / 退回 / 不予立项 with the opinion ------------------------------
  $(document).on("show.bs.modal", "#review-dialog", function () {
    var box = $(this).find(".rowids").empty();
    checked().each(function () { $("<input type=hidden name=rowid>").val(this.value).appendTo(box); });
    $(this).find(".review-error").remove();
  });
  $(document).on("click", ".review-form button[type=submit]", function (e) {
    var form = $(this).closest("form");
    var opinion = form.find("textarea[name=reason]");
    form.find(".review-error").remove();
    if ($(this).data("required") && !$.trim(opinion.val())) {
      e.preventDefault();
      opinion.addClass("is-invalid").after('<div class="invalid-feedback review-error d-block">请填写' + ($(this).data("label") || "意见") + "</div>");
      opinion.trigger("focus");
      return;
    }
    if (form.data("bulk") && !form.find("input[name=rowid]").length) { e.preventDefault(); window.alert("请先选择要操作的记录"); }
  });

  // -- confirmations, page size, jump to page ----------------------------------------------------
  $(document).on("click", "[data-confirm]", function (e) {
    if (this.classList.contains("bulk-action")) { return; }
    var question = $(this).data("confirm");
    if (question && !window.confirm(question)) { e.preventDefault(); }
  });
  $(document).on("change", "#page-size", function () { window.location = this.value; });
  $(document).on("submit", "#page-jump", function (e) {
    e.preventDefault();
    var pages = parseInt($(this).data("pages"), 10);
    var n = parseInt($(this).find("input").val(), 10);
    if (!(n >= 1)) { n = 1; }
    if (n > pages) { n = pages; }
    var url = new URL($(this).data("url"), window.location.href);
    if (n > 1) { url.searchParams.set("page", String(n - 1)); } else { url.searchParams.delete("page"); }
    window.location = url.toString();
  });

  // -- export dialog (选择导出字段) --------------------------------------------------------------
  $(function () {
    var list = document.getElementById("export-columns");
    var form = document.getElementById("export-form");
    if (!list || !form) { return; }
    list.addEventListener("click", function (e) {
      var btn = e.target.closest("[data-export-move]");
      if (!btn) { return; }
      var item = btn.closest("li");
      if (btn.dataset.exportMove === "up" && item.previousElementSibling) { list.insertBefore(item, item.previousElementSibling); }
      if (btn.dataset.exportMove === "down" && item.nextElementSibling) { list.insertBefore(item.nextElementSibling, item); }
    });
    $("[data-export-check]").on("click", function () {
      var all = this.dataset.exportCheck === "all";
      $(list).find("input[name=col]").prop("checked", all);
    });
    var only = document.getElementById("export-selected-only");
    $("#export-dialog").on("show.bs.modal", function () {
      var n = checked().length;
      document.getElementById("export-selected-count").textContent = n;
      only.checked = n > 0;
      only.disabled = n === 0;
    });
    form.addEventListener("submit", function (e) {
      if (!list.querySelector("input[name=col]:checked")) { e.preventDefault(); window.alert("请至少选择一个导出字段"); return; }
      var box = document.getElementById("export-rowids");
      box.innerHTML = "";
      if (only.checked) {
        checked().each(function () { $("<input type=hidden name=rowid>").val(this.value).appendTo(box); });
      }
      setTimeout(function () { $("#export-dialog").modal("hide"); }, 500);
    });
  });
})(window.jQuery);

/* The details page's review dialog: a transition asking for an opinion (审核通过, 退回, 不予立项)
   opens it with its own title, field label and required marker. */
(function ($) {
  "use strict";
  if (!$) { return; }
  $(document).on("click", ".transition-form button[data-review]", function (e) {
    var dialog = $("#review-dialog");
    if (!dialog.length || !$.fn.modal) { return; } // no dialog: the confirmation page asks instead
    e.preventDefault();
    var btn = $(this);
    var required = !!btn.data("required");
    dialog.find("#review-dialog-title").text(btn.data("title"));
    dialog.find("#review-opinion-label").html("").text(btn.data("reasonLabel"));
    if (required) { dialog.find("#review-opinion-label").append(' <span class="required-star" aria-hidden="true">*</span>'); }
    dialog.find("#review-opinion").prop("required", required).attr("aria-required", required ? "true" : "false").removeClass("is-invalid");
    dialog.find("#review-confirm").val(btn.val()).text("确定" + btn.data("title"))
      .attr("data-required", required ? "1" : "").data("required", required ? "1" : "").data("label", btn.data("reasonLabel"))
      .toggleClass("btn-danger", /return|reject|refuse/.test(btn.val())).toggleClass("btn-primary", !/return|reject|refuse/.test(btn.val()));
    dialog.find(".review-error").remove();
    // what this button asks besides the opinion (补正期限 of 退回): only its own fields, enabled
    dialog.find(".ask-field").each(function () {
      var mine = $(this).data("forAction") === btn.val();
      $(this).toggle(mine).find("input").prop("disabled", !mine);
    });
    dialog.modal("show");
    setTimeout(function () { dialog.find("#review-opinion").trigger("focus"); }, 300);
  });
})(window.jQuery);
