/* The Chinese locale of Flask-Admin's widgets, which ship in English only: select2 3.5's messages
   and bootstrap-daterangepicker 1.3's labels, month and weekday names (weeks start on Monday).
   Loaded after the widgets and before Flask-Admin's form.js runs (its set-up waits for DOM ready,
   and this ready handler is registered first). */
(function ($) {
  "use strict";
  if (!$) { return; }

  var SELECT2_ZH = {
    formatNoMatches: function () { return "没有找到匹配项"; },
    formatInputTooShort: function (input, min) { return "请再输入 " + (min - input.length) + " 个字"; },
    formatInputTooLong: function (input, max) { return "请删掉 " + (input.length - max) + " 个字"; },
    formatSelectionTooBig: function (limit) { return "最多只能选择 " + limit + " 项"; },
    formatLoadMore: function () { return "正在加载更多结果…"; },
    formatSearching: function () { return "正在搜索…"; },
    formatAjaxError: function () { return "加载失败，请稍后重试"; }
  };

  var PICKER_ZH = {
    applyLabel: "确定",
    cancelLabel: "取消",
    fromLabel: "从",
    toLabel: "至",
    weekLabel: "周",
    customRangeLabel: "自定义",
    daysOfWeek: ["日", "一", "二", "三", "四", "五", "六"],
    monthNames: ["1月", "2月", "3月", "4月", "5月", "6月", "7月", "8月", "9月", "10月", "11月", "12月"],
    firstDay: 1
  };

  function localiseSelect2() {
    if (!$.fn.select2) { return; }
    $.extend($.fn.select2.defaults, SELECT2_ZH);
    var original = $.fn.select2;
    $.fn.select2 = function (options) {
      // form.js gives tag fields an English "no matches" text of its own
      if (options && typeof options === "object" && options.tags !== undefined) {
        options.formatNoMatches = function () { return "多个值之间用逗号分隔"; };
      }
      return original.apply(this, arguments);
    };
    $.extend($.fn.select2, original);
  }

  function localisePicker() {
    if (!$.fn.daterangepicker) { return; }
    var original = $.fn.daterangepicker;
    $.fn.daterangepicker = function (options, callback) {
      options = $.extend(true, {}, options || {}, { locale: PICKER_ZH });
      if (options.separator === " to ") { options.separator = " 至 "; }
      return original.call(this, options, callback);
    };
  }

  if (window.moment && moment.updateLocale) {
    moment.updateLocale("en", { week: { dow: 1, doy: 4 } });
  }

  $(function () {
    localiseSelect2();
    localisePicker();
    // the browser's own "Please fill out this field." is English: the app answers on the server
    $("form").attr("novalidate", "novalidate");
  });
})(window.jQuery);
