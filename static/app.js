// logloupe: progressive enhancement only; every page works without this file.
"use strict";

(function () {
  function humanSize(bytes) {
    var units = ["bytes", "KiB", "MiB", "GiB"];
    var value = bytes;
    for (var i = 0; i < units.length; i++) {
      if (value < 1024 || i === units.length - 1) {
        return i === 0 ? bytes + " bytes" : value.toFixed(1) + " " + units[i];
      }
      value /= 1024;
    }
    return bytes + " bytes";
  }

  function setUpUpload(form) {
    var input = form.querySelector(".file-input");
    var zone = form.querySelector(".dropzone");
    var list = form.querySelector(".chosen-files");
    var errorBox = form.querySelector(".upload-error");
    var progressBox = form.querySelector(".upload-progress");
    var bar = form.querySelector(".upload-bar");
    var progressText = form.querySelector(".upload-progress-text");
    var submit = form.querySelector("button[type=submit]");

    function showError(message) {
      errorBox.textContent = message;
      errorBox.hidden = false;
    }

    var defaultSelect = form.querySelector(".product-default select");
    var defaultRow = form.querySelector(".product-default");

    // one product select per chosen file (named "product", in the order of the files);
    // without JavaScript the single "product_default" select applies to every file
    function productSelect(index) {
      var select = document.createElement("select");
      select.name = "product";
      select.className = "file-product";
      select.setAttribute("aria-label", "Product of file " + (index + 1));
      Array.prototype.forEach.call(defaultSelect.options, function (option) {
        var copy = document.createElement("option");
        copy.value = option.value;
        copy.textContent = option.textContent;
        copy.selected = option.value === defaultSelect.value;
        select.appendChild(copy);
      });
      return select;
    }

    function showChosen() {
      list.textContent = "";
      Array.prototype.forEach.call(input.files, function (file, index) {
        var item = document.createElement("li");
        var label = document.createElement("span");
        label.textContent = file.name + " (" + humanSize(file.size) + ")";
        item.appendChild(label);
        if (defaultSelect) { item.appendChild(productSelect(index)); }
        list.appendChild(item);
      });
      if (defaultRow) { defaultRow.hidden = input.files.length > 0; }
    }

    input.addEventListener("change", showChosen);
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("dragover");
      });
    });
    ["dragleave", "dragend"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("dragover"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("dragover");
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        showChosen();
      }
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      errorBox.hidden = true;
      if (!input.files.length) {
        showError("Choose at least one file to upload.");
        return;
      }
      var request = new XMLHttpRequest();
      request.open("POST", "/api/v1/analyses");
      request.setRequestHeader("Accept", "application/json");
      var token = form.querySelector("input[name=csrf_token]");
      if (token) { request.setRequestHeader("X-CSRF-Token", token.value); }
      request.responseType = "json";
      request.upload.addEventListener("progress", function (progress) {
        if (progress.lengthComputable) {
          bar.value = Math.round((progress.loaded / progress.total) * 100);
          progressText.textContent = "Uploading: " + humanSize(progress.loaded) + " of " + humanSize(progress.total);
        }
      });
      request.addEventListener("load", function () {
        var body = request.response || {};
        if (request.status === 202 && body.url) {
          bar.value = 100;
          progressText.textContent = "Uploaded; opening the analysis…";
          window.location.assign(body.url);
          return;
        }
        progressBox.hidden = true;
        submit.disabled = false;
        showError(body.detail || "The upload failed (HTTP " + request.status + ").");
      });
      request.addEventListener("error", function () {
        progressBox.hidden = true;
        submit.disabled = false;
        showError("The upload did not reach the server: check the connection and try again.");
      });
      bar.value = 0;
      progressText.textContent = "Starting the upload…";
      progressBox.hidden = false;
      submit.disabled = true;
      request.send(new FormData(form));
    });
  }

  function setUpCopy(button) {
    var field = document.getElementById(button.getAttribute("data-copy-target"));
    var status = document.querySelector(".copy-status");
    function done(message) { if (status) { status.textContent = message; } }
    function fallback() {
      field.focus();
      field.select();
      var copied = false;
      try { copied = document.execCommand("copy"); } catch (ignored) { copied = false; }
      done(copied ? "Link copied." : "Press Ctrl+C (⌘C) to copy the selected link.");
    }
    button.addEventListener("click", function () {
      var url = field.value;
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(url).then(function () { done("Link copied."); }, fallback);
      } else {
        fallback();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector(".upload-form");
    if (form) { setUpUpload(form); }
    Array.prototype.forEach.call(document.querySelectorAll(".copy-link"), setUpCopy);
  });
})();
