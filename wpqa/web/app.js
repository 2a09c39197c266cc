/* wpqa web client: conversation (POST /api/ask, server-sent events) and index panel
   (GET /api/index, POST /v1/index). Plain JavaScript, no build step, no dependencies. */
(function () {
  "use strict";

  var KEY_STORE = "wpqa-key";
  var MAX_TURNS = 6;
  var POLL_MS = 700;

  // ---- interface language (the answers follow the question's language, not this) ----------
  var STRINGS = {
    en: {
      tagline: "Questions over policy white papers",
      newConversation: "New conversation",
      indexToggle: "Index",
      keyNeeded: "This server needs an API key.",
      keyWrong: "That key was not accepted. Enter the API key again.",
      keyPlaceholder: "API key",
      keySave: "Use key",
      emptyTitle: "Ask the white papers",
      emptyText: "Answers come only from the indexed documents, in the language of your question, with every claim tied to document › section › page.",
      placeholder: "Ask in English or Chinese · 用中文或英文提问",
      ask: "Ask",
      hint: "Enter to send · Shift+Enter for a new line",
      indexTitle: "Index",
      statDocs: "Documents",
      statChunks: "Chunks",
      statBuilt: "Last built",
      update: "Update index",
      searching: "Searching the documents…",
      waiting: function (n) { return "Waiting: " + n + " ahead"; },
      answering: "Answering…",
      writing: "Writing the answer…",
      understood: "Understood as:",
      pages: function (n) { return n + (n === 1 ? " page" : " pages"); },
      chunks: function (n) { return n + (n === 1 ? " chunk" : " chunks"); },
      noDocs: "No documents indexed yet.",
      buildRunning: "Updating the index…",
      buildStarted: "Index update started.",
      buildAlready: "An index update is already running.",
      buildDone: "Index updated.",
      buildFailed: "Index update failed.",
      indexError: "Could not read the index: ",
      requestFailed: "The request failed: ",
      noAnswer: "The answer stream ended without an answer.",
      generation: "Generation",
      total: function (s) { return s + " s"; }
    },
    zh: {
      tagline: "政策白皮书问答",
      newConversation: "新对话",
      indexToggle: "索引",
      keyNeeded: "此服务器需要 API 密钥。",
      keyWrong: "密钥未被接受，请重新输入。",
      keyPlaceholder: "API 密钥",
      keySave: "使用密钥",
      emptyTitle: "向白皮书提问",
      emptyText: "答案只来自已索引的文档，使用与问题相同的语言，每一处论断都注明 文档 › 章节 › 页码。",
      placeholder: "用中文或英文提问 · Ask in English or Chinese",
      ask: "提问",
      hint: "Enter 发送 · Shift+Enter 换行",
      indexTitle: "索引",
      statDocs: "文档",
      statChunks: "文本块",
      statBuilt: "最近构建",
      update: "更新索引",
      searching: "正在检索文档…",
      waiting: function (n) { return "排队中：前面还有 " + n + " 个"; },
      answering: "正在回答…",
      writing: "正在撰写答案…",
      understood: "理解为：",
      pages: function (n) { return n + " 页"; },
      chunks: function (n) { return n + " 块"; },
      noDocs: "尚未索引任何文档。",
      buildRunning: "正在更新索引…",
      buildStarted: "已开始更新索引。",
      buildAlready: "索引更新已在进行中。",
      buildDone: "索引已更新。",
      buildFailed: "索引更新失败。",
      indexError: "无法读取索引：",
      requestFailed: "请求失败：",
      noAnswer: "回答流已结束，但没有答案。",
      generation: "版本",
      total: function (s) { return s + " 秒"; }
    }
  };
  var ABSTAIN_LABEL = { en: "The documents do not say", zh: "文档中没有相关内容" };

  var uiLang = /^zh/i.test(navigator.language || "") ? "zh" : "en";
  var T = STRINGS[uiLang];

  function applyStrings() {
    document.documentElement.lang = uiLang === "zh" ? "zh-CN" : "en";
    document.querySelectorAll("[data-i18n]").forEach(function (el) {
      var v = T[el.getAttribute("data-i18n")];
      if (typeof v === "string") el.textContent = v;
    });
    document.querySelectorAll("[data-i18n-placeholder]").forEach(function (el) {
      var v = T[el.getAttribute("data-i18n-placeholder")];
      if (typeof v === "string") el.setAttribute("placeholder", v);
    });
  }

  // ---- small DOM helpers -------------------------------------------------------------------
  function $(sel) { return document.querySelector(sel); }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  // ---- API key and fetch -------------------------------------------------------------------
  var keyPrompt = null; // the pending "enter the key" promise, shared by concurrent 401s

  function storedKey() {
    try { return localStorage.getItem(KEY_STORE) || ""; } catch (e) { return ""; }
  }

  /* The key also goes into a same-site cookie of the same name: the citation links open the page
     view in a new tab, a plain navigation that cannot send an Authorization header. */
  function setKeyCookie(key) {
    var secure = location.protocol === "https:" ? "; Secure" : "";
    document.cookie = KEY_STORE + "=" + (key ? encodeURIComponent(key) : "") + "; Path=/; SameSite=Strict" +
      (key ? "" : "; Max-Age=0") + secure;
  }

  function saveKey(key) {
    try {
      if (key) localStorage.setItem(KEY_STORE, key); else localStorage.removeItem(KEY_STORE);
    } catch (e) { /* private mode: keep it for this page only */ }
    memoryKey = key;
    setKeyCookie(key);
  }

  function askForKey(wasWrong) {
    if (keyPrompt) return keyPrompt;
    var form = $("#key-form");
    var input = $("#api-key");
    $("#key-label").textContent = wasWrong ? T.keyWrong : T.keyNeeded;
    form.hidden = false;
    input.value = "";
    input.focus();
    keyPrompt = new Promise(function (resolve) {
      function onSubmit(ev) {
        ev.preventDefault();
        var key = input.value.trim();
        if (!key) { input.focus(); return; }
        saveKey(key);
        form.hidden = true;
        form.removeEventListener("submit", onSubmit);
        keyPrompt = null;
        resolve(key);
      }
      form.addEventListener("submit", onSubmit);
    });
    return keyPrompt;
  }

  var memoryKey = "";

  function currentKey() { return storedKey() || memoryKey; }

  /* fetch with the stored key; on 401 ask for the key (inline form) and try again. */
  function api(url, opts) {
    opts = opts || {};
    function attempt() {
      var headers = Object.assign({}, opts.headers || {});
      var key = currentKey();
      if (key) headers["Authorization"] = "Bearer " + key;
      return fetch(url, Object.assign({}, opts, { headers: headers })).then(function (res) {
        if (res.status !== 401) return res;
        var hadKey = !!key;
        if (hadKey) saveKey("");
        return askForKey(hadKey).then(attempt);
      });
    }
    return attempt();
  }

  function errorText(res) {
    return res.text().then(function (body) {
      try {
        var j = JSON.parse(body);
        var d = j.error && j.error.message !== undefined ? j.error.message
          : j.detail !== undefined ? j.detail : (j.message !== undefined ? j.message : j.error);
        if (d !== undefined) return typeof d === "string" ? d : JSON.stringify(d);
      } catch (e) { /* not JSON */ }
      return (res.status + " " + (res.statusText || "")).trim() + (body ? ": " + body.slice(0, 300) : "");
    });
  }

  // ---- server-sent events over fetch -------------------------------------------------------
  /* Reads an event stream from a fetch Response; calls onEvent(name, data) for each block. */
  function readEvents(res, onEvent) {
    var reader = res.body.getReader();
    var decoder = new TextDecoder("utf-8");
    var buf = "";

    function dispatch(block) {
      var name = "message";
      var data = [];
      block.split(/\r\n|\r|\n/).forEach(function (line) {
        if (!line || line.charAt(0) === ":") return;
        var i = line.indexOf(":");
        var field = i < 0 ? line : line.slice(0, i);
        var value = i < 0 ? "" : line.slice(i + 1);
        if (value.charAt(0) === " ") value = value.slice(1);
        if (field === "event") name = value;
        else if (field === "data") data.push(value);
      });
      if (!data.length) return;
      var text = data.join("\n");
      var parsed;
      try { parsed = JSON.parse(text); } catch (e) { parsed = text; }
      onEvent(name, parsed);
    }

    function flush(final) {
      var parts = buf.split(/\r\n\r\n|\n\n|\r\r/);
      buf = final ? "" : parts.pop();
      parts.forEach(function (p) { if (p.trim()) dispatch(p); });
    }

    function pump() {
      return reader.read().then(function (r) {
        if (r.done) {
          buf += decoder.decode();
          flush(true);
          return;
        }
        buf += decoder.decode(r.value, { stream: true });
        flush(false);
        return pump();
      });
    }
    return pump();
  }

  // ---- conversation ------------------------------------------------------------------------
  var history = []; // [{question, answer}], the last MAX_TURNS turns
  var emptyState = null; // the welcome block, shown again by "new conversation"
  var busy = false;
  var controller = null;
  var conversationId = 0; // bumped by "new conversation": late events of an old turn are dropped

  function scrollToEnd() {
    var turns = $("#turns");
    var nearEnd = turns.scrollHeight - turns.scrollTop - turns.clientHeight < 160;
    if (nearEnd) turns.scrollTop = turns.scrollHeight;
  }

  function citationLabel(c) {
    var parts = [c.doc || ""];
    if (c.section) parts.push(c.section);
    parts.push("p." + c.page);
    return parts.join(" › ");
  }

  function renderQuotes(box, quotes, turnNo) {
    box.textContent = "";
    (quotes || []).forEach(function (c) {
      var q = el("blockquote", "quote");
      q.id = "t" + turnNo + "-q" + c.n;
      q.appendChild(el("span", "quote-n", "[" + c.n + "]"));
      q.appendChild(el("span", "quote-text", c.quote));
      var cite = el("div", "citation");
      var a = el("a", null, citationLabel(c));
      a.href = c.url || "#";
      a.target = "_blank";
      a.rel = "noopener";
      cite.appendChild(a);
      q.appendChild(cite);
      box.appendChild(q);
    });
    box.hidden = !box.children.length;
  }

  function sameQuotes(a, b) {
    if (!a || !b || a.length !== b.length) return false;
    for (var i = 0; i < a.length; i++) {
      if (a[i].n !== b[i].n || a[i].quote !== b[i].quote || a[i].doc !== b[i].doc ||
          a[i].page !== b[i].page || a[i].section !== b[i].section || a[i].url !== b[i].url) return false;
    }
    return true;
  }

  /* The answer text, escaped, with [n] markers linked to the quotes of the turn. */
  function bodyHtml(body, turnNo, known) {
    return escapeHtml(body).replace(/\[(\d{1,3})\]/g, function (m, n) {
      if (!known[n]) return m;
      return '<a class="ref" href="#t' + turnNo + "-q" + n + '">[' + n + "]</a>";
    });
  }

  function makeTurn(question) {
    if (emptyState && emptyState.parentNode) emptyState.remove();
    var turnNo = document.querySelectorAll(".turn").length + 1;
    var turn = el("section", "turn");
    var q = el("div", "question");
    q.appendChild(el("div", "question-text", question));
    var understood = el("div", "understood");
    understood.hidden = true;
    q.appendChild(understood);
    var ans = el("div", "answer");
    var status = el("div", "status", T.searching);
    var quotes = el("div", "quotes");
    quotes.hidden = true;
    var draft = el("div", "draft");
    draft.hidden = true;
    var body = el("div", "answer-body");
    body.hidden = true;
    var meta = el("div", "answer-meta");
    meta.hidden = true;
    [status, quotes, draft, body, meta].forEach(function (x) { ans.appendChild(x); });
    turn.appendChild(q);
    turn.appendChild(ans);
    $("#turns").appendChild(turn);
    var turns = $("#turns");
    turns.scrollTop = turns.scrollHeight;
    return { no: turnNo, root: turn, understood: understood, answer: ans, status: status, quotes: quotes,
             draft: draft, body: body, meta: meta, shown: null, done: false };
  }

  function showError(t, message) {
    t.done = true;
    t.status.remove();
    t.draft.hidden = true;
    t.body.hidden = true;
    var box = t.answer.querySelector(".error");
    if (!box) { box = el("div", "error"); t.answer.insertBefore(box, t.meta); }
    box.textContent = message;
  }

  function showAnswer(t, a) {
    t.done = true;
    t.status.remove();
    t.draft.hidden = true;
    t.draft.textContent = "";
    var lang = a.lang === "zh" ? "zh" : "en";
    var body = a.body !== undefined && a.body !== null ? String(a.body) : String(a.answer || "");
    if (a.abstained) {
      t.answer.classList.add("abstained");
      renderQuotes(t.quotes, [], t.no);
      t.body.textContent = "";
      var head = el("div", "abstain-head");
      head.appendChild(el("span", "abstain-mark", "∅"));
      head.appendChild(el("span", "abstain-label", ABSTAIN_LABEL[lang]));
      t.body.appendChild(head);
      var rest = body.trim();
      var bare = function (x) { return x.replace(/[\s.。!！]+$/, "").toLowerCase(); };
      if (rest && bare(rest) !== bare(ABSTAIN_LABEL[lang])) t.body.appendChild(el("div", "abstain-text", rest));
    } else {
      var cites = a.citations || [];
      if (!sameQuotes(cites, t.shown)) { renderQuotes(t.quotes, cites, t.no); t.shown = cites; }
      var known = {};
      cites.forEach(function (c) { known[String(c.n)] = true; });
      t.body.innerHTML = bodyHtml(body, t.no, known);
    }
    t.body.lang = lang === "zh" ? "zh-CN" : "en";
    t.body.hidden = false;
    var total = a.timings_ms && typeof a.timings_ms.total === "number" ? a.timings_ms.total : null;
    if (total !== null) {
      t.meta.textContent = T.total((total / 1000).toFixed(1));
      t.meta.hidden = false;
    }
  }

  function handleEvent(t, name, data) {
    if (t.done) return;
    data = data || {};
    switch (name) {
      case "queue":
        t.status.textContent = data.position > 0 ? T.waiting(data.position) : T.answering;
        t.status.classList.toggle("waiting", data.position > 0);
        break;
      case "understood":
        t.understood.textContent = "";
        t.understood.appendChild(el("span", "understood-label", T.understood + " "));
        t.understood.appendChild(el("span", "understood-text", data.question || ""));
        t.understood.hidden = !data.question;
        break;
      case "sources":
        t.shown = data.quotes || [];
        t.quotes.lang = data.lang === "zh" ? "zh-CN" : "en";
        renderQuotes(t.quotes, t.shown, t.no);
        t.status.textContent = T.writing;
        break;
      case "token":
        t.draft.hidden = false;
        t.draft.textContent += data.text || "";
        break;
      case "answer":
        showAnswer(t, data);
        return data;
      case "error":
        showError(t, data.message || String(data));
        break;
      default:
        break;
    }
    scrollToEnd();
  }

  function setBusy(b) {
    busy = b;
    $("#ask").disabled = b;
    $("#ask-form").classList.toggle("busy", b);
  }

  function ask(question) {
    question = question.trim();
    if (!question || busy) return;
    setBusy(true);
    var myConversation = conversationId;
    var t = makeTurn(question);
    var sentHistory = history.slice(-MAX_TURNS);
    var result = null;
    controller = typeof AbortController !== "undefined" ? new AbortController() : null;
    api("/api/ask", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "text/event-stream" },
      body: JSON.stringify({ question: question, history: sentHistory }),
      signal: controller ? controller.signal : undefined
    }).then(function (res) {
      if (!res.ok) return errorText(res).then(function (msg) { showError(t, msg); });
      return readEvents(res, function (name, data) {
        if (myConversation !== conversationId) return;
        var r = handleEvent(t, name, data);
        if (name === "answer") result = r;
      }).then(function () {
        if (!t.done) showError(t, T.noAnswer);
      });
    }).catch(function (err) {
      if (err && err.name === "AbortError") return;
      if (!t.done) showError(t, T.requestFailed + (err && err.message ? err.message : String(err)));
    }).then(function () {
      if (myConversation !== conversationId) return;
      if (result && typeof result.answer === "string") {
        history.push({ question: question, answer: result.answer });
        history = history.slice(-MAX_TURNS);
      }
      controller = null;
      setBusy(false);
      $("#question").focus();
    });
  }

  function newConversation() {
    conversationId += 1;
    if (controller) { try { controller.abort(); } catch (e) { /* ignore */ } }
    controller = null;
    history = [];
    $("#turns").textContent = "";
    if (emptyState) $("#turns").appendChild(emptyState);
    setBusy(false);
    var q = $("#question");
    q.value = "";
    autoGrow(q);
    q.focus();
  }

  function autoGrow(ta) {
    ta.style.height = "auto";
    ta.style.height = Math.min(ta.scrollHeight + 2, 220) + "px";
  }

  // ---- index panel -------------------------------------------------------------------------
  var polling = null;

  function formatBuilt(s) {
    if (!s) return "–";
    var d = new Date(String(s).replace(/([+-]\d\d)(\d\d)$/, "$1:$2")); // +0000 -> +00:00
    if (isNaN(d.getTime())) return s;
    try {
      return d.toLocaleString(uiLang === "zh" ? "zh-CN" : undefined,
        { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
    } catch (e) { return d.toLocaleString(); }
  }

  function renderIndex(info, watching) {
    var docs = info.documents || [];
    $("#stat-docs").textContent = docs.length;
    $("#stat-chunks").textContent = info.chunks !== undefined && info.chunks !== null ? info.chunks : "–";
    $("#stat-built").textContent = formatBuilt(info.built);
    $("#stat-built").title = info.built || "";
    var list = $("#doc-list");
    list.textContent = "";
    if (!docs.length) list.appendChild(el("li", "doc-empty", T.noDocs));
    docs.forEach(function (d) {
      var li = el("li", "doc");
      li.title = d.name || d.id || "";
      var name = el("div", "doc-name", d.name || d.id);
      li.appendChild(name);
      var meta = el("div", "doc-meta");
      if (d.kind) meta.appendChild(el("span", "doc-kind", String(d.kind).toUpperCase()));
      if (d.pages !== undefined && d.pages !== null) meta.appendChild(el("span", null, T.pages(d.pages)));
      if (d.chunks !== undefined && d.chunks !== null) meta.appendChild(el("span", null, T.chunks(d.chunks)));
      li.appendChild(meta);
      list.appendChild(li);
    });
    $("#index-generation").textContent = info.generation ? T.generation + " " + info.generation : "";
    var b = info.build || { state: "idle" };
    if (info.error && b.state !== "running") b = { state: "failed", message: T.indexError + info.error };
    // a finished build's message is news only to someone who watched it (or when it failed)
    if (b.state === "done" && !watching) b = { state: "idle" };
    renderBuild(b);
  }

  function renderBuild(b) {
    var prog = $("#build-progress");
    var msg = $("#build-message");
    var btn = $("#update-index");
    var running = b.state === "running";
    btn.disabled = running;
    prog.hidden = !running;
    if (running) {
      var total = Number(b.total) || 0;
      var done = Number(b.done) || 0;
      var bar = prog.querySelector(".bar");
      var fill = prog.querySelector(".fill");
      if (total > 0) {
        var pct = Math.max(0, Math.min(100, Math.round(100 * done / total)));
        fill.style.width = pct + "%";
        bar.classList.remove("indeterminate");
        bar.setAttribute("aria-valuenow", String(pct));
      } else {
        fill.style.width = "";
        bar.classList.add("indeterminate");
        bar.removeAttribute("aria-valuenow");
      }
      prog.querySelector(".build-label").textContent =
        (b.stage || T.buildRunning) + (total > 0 ? " · " + done + " / " + total : "");
      msg.hidden = true;
    } else if (b.state === "done" || b.state === "failed") {
      msg.hidden = false;
      msg.className = "build-message " + b.state;
      msg.textContent = b.message || (b.state === "done" ? T.buildDone : T.buildFailed);
    }
  }

  function loadIndex(watching) {
    return api("/api/index").then(function (res) {
      if (!res.ok) return errorText(res).then(function (m) { throw new Error(m); });
      return res.json();
    }).then(function (info) {
      renderIndex(info, watching);
      return info;
    }).catch(function (err) {
      var msg = $("#build-message");
      msg.hidden = false;
      msg.className = "build-message failed";
      msg.textContent = T.indexError + (err && err.message ? err.message : String(err));
      return null;
    });
  }

  function poll() {
    if (polling) return;
    polling = setTimeout(function tick() {
      loadIndex(true).then(function (info) {
        if (info && info.build && info.build.state === "running") {
          polling = setTimeout(tick, POLL_MS);
        } else {
          polling = null;
        }
      });
    }, POLL_MS);
  }

  function updateIndex() {
    var btn = $("#update-index");
    btn.disabled = true;
    renderBuild({ state: "running", stage: T.buildRunning, done: 0, total: 0 });
    api("/v1/index", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" })
      .then(function (res) {
        if (res.status === 202 || res.status === 409 || res.ok) { poll(); return; }
        return errorText(res).then(function (m) {
          renderBuild({ state: "failed", message: T.buildFailed + " " + m });
          btn.disabled = false;
        });
      }).catch(function (err) {
        renderBuild({ state: "failed", message: T.buildFailed + " " + (err && err.message ? err.message : err) });
        btn.disabled = false;
      });
  }

  // ---- narrow screens: the index panel is a drawer -----------------------------------------
  function setPanel(open) {
    document.body.classList.toggle("panel-open", open);
    $("#toggle-index").setAttribute("aria-expanded", open ? "true" : "false");
    $("#scrim").hidden = !open;
  }

  // ---- wiring ------------------------------------------------------------------------------
  function init() {
    applyStrings();
    if (storedKey()) setKeyCookie(storedKey());
    emptyState = $("#empty-state");
    var q = $("#question");
    $("#ask-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var text = q.value;
      if (!text.trim() || busy) return;
      q.value = "";
      autoGrow(q);
      ask(text);
    });
    q.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
        ev.preventDefault();
        if (!busy) $("#ask-form").requestSubmit ? $("#ask-form").requestSubmit() : $("#ask").click();
      }
    });
    q.addEventListener("input", function () { autoGrow(q); });
    document.querySelectorAll(".example").forEach(function (b) {
      b.addEventListener("click", function () { q.value = b.textContent; autoGrow(q); q.focus(); });
    });
    $("#new-conversation").addEventListener("click", newConversation);
    $("#update-index").addEventListener("click", updateIndex);
    $("#toggle-index").addEventListener("click", function () {
      setPanel(!document.body.classList.contains("panel-open"));
    });
    $("#close-index").addEventListener("click", function () { setPanel(false); });
    $("#scrim").addEventListener("click", function () { setPanel(false); });
    document.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape" && document.body.classList.contains("panel-open")) setPanel(false);
    });
    loadIndex().then(function (info) {
      if (info && info.build && info.build.state === "running") poll();
    });
    q.focus();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
