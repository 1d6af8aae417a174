// Resumable uploads on a draft's page (progressive enhancement of the plain form).
// With JavaScript and tus-js-client, files of at least data-tus-threshold bytes go
// through /api/uploads (tus 1.0) with a progress bar, pause/resume and automatic
// retry; a page reload resumes an unfinished upload of the same file. Small files,
// and zips to unpack, still go through the plain form, which also works without
// JavaScript.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form || !window.tus || !window.tus.isSupported) {
    return;
  }
  var panel = document.getElementById("tus-panel");
  var bar = document.getElementById("tus-progress");
  var status = document.getElementById("tus-status");
  var pauseButton = document.getElementById("tus-pause");
  var threshold = Number(form.getAttribute("data-tus-threshold")) || 0;
  var dataset = form.getAttribute("data-dataset");
  var csrf = form.querySelector("input[name=csrf_token]").value;
  var current = null;
  var paused = false;

  function say(text) {
    status.textContent = text;
  }

  function size(bytes) {
    var units = ["B", "KiB", "MiB", "GiB", "TiB"];
    var i = 0;
    while (bytes >= 1024 && i < units.length - 1) {
      bytes /= 1024;
      i++;
    }
    return bytes.toFixed(i === 0 ? 0 : 1) + " " + units[i];
  }

  // The server's error message (JSON {"error": ...}) rather than a bare status.
  function explain(error) {
    var res = error && error.originalResponse;
    if (res) {
      try {
        var body = JSON.parse(res.getBody());
        if (body && body.error) {
          return body.error + " (HTTP " + res.getStatus() + ")";
        }
      } catch (e) {
        // not JSON: fall through
      }
    }
    return String(error && error.message ? error.message : error);
  }

  function uploadOne(file, folder, index, count) {
    return new Promise(function (resolve, reject) {
      var label = (count > 1 ? "(" + (index + 1) + "/" + count + ") " : "") + file.name;
      var upload = new window.tus.Upload(file, {
        endpoint: "/api/uploads",
        headers: { "X-CSRF-Token": csrf },
        metadata: { dataset: dataset, filename: file.name, folder: folder },
        chunkSize: 64 * 1024 * 1024,
        retryDelays: [0, 1000, 3000, 5000, 10000, 20000, 60000],
        removeFingerprintOnSuccess: true,
        onProgress: function (sent, total) {
          bar.max = total;
          bar.value = sent;
          say(label + ": " + size(sent) + " of " + size(total) + (paused ? " (paused)" : ""));
        },
        onSuccess: function () {
          resolve();
        },
        onError: function (error) {
          reject(new Error(label + ": " + explain(error)));
        },
      });
      current = upload;
      upload.findPreviousUploads().then(function (previous) {
        if (previous.length > 0) {
          upload.resumeFromPreviousUpload(previous[0]);
        }
        upload.start();
      });
    });
  }

  pauseButton.addEventListener("click", function () {
    if (!current) {
      return;
    }
    if (paused) {
      paused = false;
      pauseButton.textContent = "Pause";
      current.start();
    } else {
      paused = true;
      pauseButton.textContent = "Resume";
      current.abort();
      say(status.textContent + " (paused)");
    }
  });

  form.addEventListener("submit", function (event) {
    var input = form.querySelector("input[type=file]");
    var unpack = form.querySelector("input[name=unpack]");
    var files = Array.prototype.slice.call(input.files || []);
    var large = files.some(function (f) {
      return f.size >= threshold;
    });
    if (files.length === 0 || !large || (unpack && unpack.checked)) {
      return; // the plain form does it
    }
    event.preventDefault();
    var folder = form.querySelector("input[name=folder]").value || "";
    var submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    panel.hidden = false;
    var chain = Promise.resolve();
    files.forEach(function (file, i) {
      chain = chain.then(function () {
        return uploadOne(file, folder, i, files.length);
      });
    });
    chain
      .then(function () {
        say("Done; reloading the page.");
        window.location.reload();
      })
      .catch(function (error) {
        say("The upload stopped: " + error.message);
        submit.disabled = false;
      });
  });
})();
