/* ponder's chat page: a plain script over the server's native API (no build step).
 *
 * Everything the model or a tool wrote is untrusted: it reaches the DOM only as
 * text nodes, or through KaTeX with trust off. The bearer token lives in
 * sessionStorage and travels only in the Authorization header.
 */
"use strict";

(() => {
  const BASE = new URL("../", document.currentScript.src);
  const TOKEN_KEY = "ponder.token";
  const $ = (id) => document.getElementById(id);
  const ui = {
    agent: $("agent"), reasoningOption: $("reasoning-option"), showReasoning: $("show-reasoning"),
    theme: $("theme"), signOut: $("sign-out"), menu: $("menu"), sidebar: $("sidebar"),
    newThread: $("new-thread"), threads: $("threads"), threadsEmpty: $("threads-empty"),
    log: $("log"), welcome: $("welcome"), form: $("ask"), question: $("question"),
    send: $("send"), stop: $("stop"), status: $("status"),
    tokenDialog: $("token-dialog"), tokenForm: $("token-form"), token: $("token"), tokenError: $("token-error"),
  };
  const state = { threadId: null, allowReasoning: false, controller: null, running: false };
  let uid = 0;
  const nextId = (prefix) => `${prefix}-${++uid}`;

  // ------------------------------------------------------------ DOM helpers

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function say(message) {
    ui.status.textContent = message;
  }

  function scrollDown() {
    const log = ui.log;
    if (log.scrollHeight - log.scrollTop - log.clientHeight < 160) log.scrollTop = log.scrollHeight;
  }

  // ------------------------------------------------------ rich text and math

  function renderMath(tex, display) {
    const span = el("span", { class: display ? "math display" : "math" });
    if (window.katex) {
      try {
        window.katex.render(tex, span, {
          displayMode: display, throwOnError: false, trust: false, strict: "ignore",
          maxSize: 20, maxExpand: 500, output: "htmlAndMathml",
        });
        return span;
      } catch (_err) { /* fall through to plain text */ }
    }
    span.textContent = display ? `$$${tex}$$` : `$${tex}$`;
    return span;
  }

  const INLINE = /(\$\$[\s\S]+?\$\$|\\\[[\s\S]+?\\\]|\\\([\s\S]+?\\\)|\$(?=\S)[^$\n]*?\S\$(?!\d)|\$\S\$(?!\d)|`[^`\n]+`|\*\*[^*\n]+\*\*)/;

  function inline(text, parent) {
    let rest = text;
    while (rest) {
      const match = INLINE.exec(rest);
      if (!match) { parent.append(document.createTextNode(rest)); break; }
      if (match.index) parent.append(document.createTextNode(rest.slice(0, match.index)));
      const token = match[0];
      if (token.startsWith("$$")) parent.append(renderMath(token.slice(2, -2), true));
      else if (token.startsWith("\\[")) parent.append(renderMath(token.slice(2, -2), true));
      else if (token.startsWith("\\(")) parent.append(renderMath(token.slice(2, -2), false));
      else if (token.startsWith("$")) parent.append(renderMath(token.slice(1, -1), false));
      else if (token.startsWith("`")) parent.append(el("code", { text: token.slice(1, -1) }));
      else parent.append(el("strong", { text: token.slice(2, -2) }));
      rest = rest.slice(match.index + token.length);
    }
  }

  function paragraph(text, parent) {
    const lines = text.split("\n");
    if (lines.every((line) => /^\s*([-*]|\d+\.)\s+/.test(line))) {
      const ordered = /^\s*\d+\./.test(lines[0]);
      const list = el(ordered ? "ol" : "ul");
      for (const line of lines) {
        const item = el("li");
        inline(line.replace(/^\s*([-*]|\d+\.)\s+/, ""), item);
        list.append(item);
      }
      parent.append(list);
      return;
    }
    const p = el("p");
    lines.forEach((line, i) => {
      if (i) p.append(el("br"));
      inline(line, p);
    });
    parent.append(p);
  }

  /** Text with fenced code, paragraphs, lists, inline code, bold and TeX ($…$, $$…$$, \(…\), \[…\]). */
  function renderRich(container, text) {
    container.replaceChildren();
    const parts = text.split(/```[^\n`]*\n?([\s\S]*?)(?:```|$)/);
    parts.forEach((part, i) => {
      if (i % 2 === 1) {
        container.append(el("pre", {}, el("code", { text: part.replace(/\n$/, "") })));
        return;
      }
      for (const block of part.split(/\n\s*\n/)) {
        if (block.trim()) paragraph(block.trim(), container);
      }
    });
  }

  /** Re-indent JSON text the way JSON.stringify(v, null, 2) would, keeping every literal as written. */
  function reindent(text) {
    let out = "";
    let depth = 0;
    const pad = () => `\n${"  ".repeat(depth)}`;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (c === '"') {
        let j = i + 1;
        while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
        out += text.slice(i, j + 1);
        i = j;
      } else if (c === "{" || c === "[") {
        let j = i + 1;
        while (/\s/.test(text[j] || "")) j++;
        if (text[j] === (c === "{" ? "}" : "]")) {
          out += c + text[j];
          i = j;
        } else {
          depth++;
          out += c + pad();
        }
      } else if (c === "}" || c === "]") {
        depth--;
        out += pad() + c;
      } else if (c === ",") {
        out += `,${pad()}`;
      } else if (c === ":") {
        out += ": ";
      } else if (!/\s/.test(c)) {
        out += c;
      }
    }
    return out;
  }

  /** The answer as pretty JSON text when it is an object or array (from its own text if it has one), else null. */
  function prettyJson(answer, raw) {
    for (const text of [raw, typeof answer === "string" ? answer : null]) {
      if (typeof text !== "string" || !/^\s*[[{]/.test(text)) continue;
      try {
        const value = JSON.parse(text);
        if (value !== null && typeof value === "object") return reindent(text.trim());
      } catch (_err) { /* not JSON */ }
    }
    if (answer !== null && typeof answer === "object") return JSON.stringify(answer, null, 2);
    return null;
  }

  function renderAnswer(container, answer, raw) {
    const json = prettyJson(answer, raw);
    container.classList.toggle("json", json !== null);
    if (json !== null) {
      container.replaceChildren(el("pre", { "aria-label": "JSON answer" }, el("code", { text: json })));
    } else {
      renderRich(container, answer == null ? "" : String(answer));
    }
  }

  // ------------------------------------------------------------------- API

  async function api(path, init = {}) {
    const headers = new Headers(init.headers || {});
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.set("Authorization", `Bearer ${token}`);
    const options = { method: init.method || "GET", headers, cache: "no-store", signal: init.signal };
    if (init.json !== undefined) {
      headers.set("Content-Type", "application/json");
      options.body = JSON.stringify(init.json);
    }
    const response = await fetch(new URL(path, BASE), options);
    if (response.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      await askForToken();
      return api(path, init);
    }
    return response;
  }

  async function errorText(response) {
    try {
      const body = await response.json();
      if (body && body.error && body.error.message) return body.error.message;
    } catch (_err) { /* not JSON */ }
    return `${response.status} ${response.statusText}`;
  }

  let tokenWaiters = null;
  function askForToken() {
    if (!tokenWaiters) {
      tokenWaiters = [];
      ui.tokenError.textContent = "";
      ui.token.value = "";
      ui.tokenDialog.showModal();
      ui.token.focus();
    }
    return new Promise((resolve, reject) => tokenWaiters.push({ resolve, reject }));
  }

  ui.tokenForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = ui.token.value.trim();
    if (!token) return;
    const check = await fetch(new URL("agents", BASE), { headers: { Authorization: `Bearer ${token}` }, cache: "no-store" });
    if (check.status === 401) {
      ui.tokenError.textContent = "That token was not accepted.";
      ui.token.select();
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    ui.token.value = "";
    ui.tokenDialog.close();
    ui.signOut.hidden = false;
    const waiters = tokenWaiters || [];
    tokenWaiters = null;
    waiters.forEach((w) => w.resolve());
  });

  ui.tokenDialog.addEventListener("cancel", () => {
    const waiters = tokenWaiters || [];
    tokenWaiters = null;
    say("A bearer token is needed to use this server.");
    waiters.forEach((w) => w.reject(new Error("no token")));
  });

  ui.signOut.addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    ui.signOut.hidden = true;
    say("Token forgotten.");
  });

  /** Parse an SSE body into {id, event, data} frames; comment lines (heartbeats) are skipped. */
  async function* sseFrames(response) {
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const frame = { id: null, event: "message", data: [] };
        for (const line of block.split("\n")) {
          if (!line || line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const val = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "data") frame.data.push(val);
          else if (field === "event") frame.event = val;
          else if (field === "id") frame.id = val;
        }
        if (frame.data.length) yield { id: frame.id, event: frame.event, data: frame.data.join("\n") };
      }
    }
  }

  // ---------------------------------------------------------------- turns

  class Turn {
    constructor(question) {
      this.runId = null;
      this.lastEventId = null;
      this.finished = false;
      this.answerText = "";
      this.cards = new Map();
      this.reasoning = null;
      this.answer = null;
      this.node = el("article", { class: "turn", "aria-label": "Question and answer" },
        el("h2", { class: "visually-hidden", text: "Question" }),
        el("div", { class: "question", text: question }));
      this.reply = el("div", { class: "reply" });
      this.node.append(this.reply);
      ui.welcome.hidden = true;
      ui.log.append(this.node);
      scrollDown();
    }

    add(node) {
      if (this.answer && this.answer.parentNode === this.reply) this.reply.insertBefore(node, this.answer);
      else this.reply.append(node);
      scrollDown();
    }

    reasoningPanel() {
      if (!this.reasoning) {
        const text = el("div", { class: "reasoning-text" });
        const summary = el("summary", { text: "Thinking…" });
        const panel = el("details", { class: "reasoning", open: true, "aria-label": "Reasoning" }, summary, text);
        this.reasoning = { panel, summary, text, chars: 0 };
        this.reply.prepend(panel);
      }
      return this.reasoning;
    }

    addReasoning(text) {
      const r = this.reasoningPanel();
      if (!this.answering && !r.panel.open) {
        r.panel.open = true;
        r.summary.textContent = "Thinking…";
      }
      r.text.append(document.createTextNode(text));
      r.chars += text.length;
      r.text.scrollTop = r.text.scrollHeight;
      scrollDown();
    }

    noteReasoningGone() {
      const r = this.reasoningPanel();
      r.text.append(el("span", { class: "note", text: "\n[Reasoning from before the reconnect is not kept.]\n" }));
    }

    collapseReasoning() {
      if (!this.reasoning) return;
      this.reasoning.panel.open = false;
      this.reasoning.summary.textContent = "Reasoning";
    }

    answerBox() {
      if (!this.answer) {
        this.answer = el("div", { class: "answer streaming", "aria-label": "Answer" });
        this.reply.append(this.answer);
      }
      return this.answer;
    }

    addAnswer(text) {
      if (!this.answering) this.collapseReasoning();
      this.answering = true;
      this.answerText += text;
      const box = this.answerBox();
      if (!this.pending) {
        this.pending = true;
        requestAnimationFrame(() => {
          this.pending = false;
          if (this.finished) return; // the final answer is already drawn
          renderRich(box, this.answerText);
          scrollDown();
        });
      }
    }

    fail(message) {
      this.add(el("p", { class: "failure", role: "alert", text: message }));
    }

    finish(result) {
      this.finished = true;
      this.collapseReasoning();
      if (result.outcome === "awaiting_approval") {
        if (this.answer) this.answer.remove();
        this.answer = null;
        this.answerText = "";
        return;
      }
      const box = this.answerBox();
      box.classList.remove("streaming");
      this.reply.append(box);
      renderAnswer(box, result.answer, this.answerText);
      const usage = result.usage || {};
      const bad = result.outcome !== "answered";
      this.reply.append(el("p", { class: "meta" },
        el("span", { class: bad ? "outcome-bad" : "", text: bad ? `Ended: ${result.outcome}` : "Answered" }),
        ` · ${result.steps} step${result.steps === 1 ? "" : "s"}`,
        usage.total_tokens ? ` · ${usage.total_tokens} tokens` : ""));
      scrollDown();
    }
  }

  // ----------------------------------------------------------- tool cards

  function claimView(claim) {
    if (!claim || typeof claim !== "object") return el("pre", { text: JSON.stringify(claim, null, 2) });
    if (claim.kind === "identity") return el("p", { class: "claim" }, el("code", { text: `${claim.lhs} = ${claim.rhs}` }));
    if (claim.kind === "derivation" && Array.isArray(claim.steps)) {
      return el("ol", { class: "claim" }, ...claim.steps.map((s) => el("li", {}, el("code", { text: String(s) }))));
    }
    if (claim.kind === "lean") return el("pre", {}, el("code", { text: String(claim.source || "") }));
    return el("pre", {}, el("code", { text: JSON.stringify(claim, null, 2) }));
  }

  function argumentsView(name, args) {
    const view = el("div", { class: "card-body" });
    const raw = el("details", {}, el("summary", { text: "Arguments (JSON)" }),
      el("pre", {}, el("code", { text: JSON.stringify(args, null, 2) })));
    if (name === "run_python" && args && typeof args.code === "string") {
      view.append(el("p", { class: "label", text: "Code" }), el("pre", { class: "code" }, el("code", { text: args.code })));
    } else if (name === "check_proof" && args && args.claim) {
      view.append(el("p", { class: "label", text: `Claim (${args.claim.kind || "?"})` }), claimView(args.claim), raw);
    } else if (name === "search" && args && typeof args.query === "string") {
      view.append(el("p", { class: "label", text: "Query" }), el("p", { class: "claim", text: args.query }));
    } else {
      view.append(el("pre", {}, el("code", { text: JSON.stringify(args, null, 2) })));
    }
    return view;
  }

  function toolCard(turn, event) {
    const badge = el("span", { class: "badge pending", text: "running" });
    const result = el("div", { class: "result", "aria-live": "polite" });
    const title = el("h3", { class: "card-title" }, "Tool ", el("code", { text: event.name }));
    const card = el("section", { class: `card tool tool-${event.name}`, "aria-label": `Tool call ${event.name}` },
      el("div", { class: "card-head" }, title, badge), argumentsView(event.name, event.arguments), result);
    turn.cards.set(event.id, { card, badge, result, name: event.name });
    turn.add(card);
  }

  function verdictView(output, slot, badge) {
    const lines = output.split("\n");
    const head = /^(PROVED|REFUTED|UNKNOWN)\b(.*)$/.exec(lines[0] || "");
    if (!head) {
      slot.append(el("pre", { text: output }));
      return;
    }
    const verdict = head[1].toLowerCase();
    badge.className = `badge verdict ${verdict}`;
    badge.textContent = verdict;
    const detail = head[2].replace(/^\s*\([^)]*\)\s*:?\s*/, "");
    if (detail) slot.append(el("p", { class: `verdict-line ${verdict}`, text: detail }));
    for (const line of lines.slice(1)) {
      if (line.startsWith("Counterexample:")) {
        slot.append(el("p", { class: "counterexample" },
          el("strong", { text: "Counterexample:" }), line.slice("Counterexample:".length)));
      } else if (line.trim()) {
        slot.append(el("p", { class: "explanation", text: line }));
      }
    }
  }

  function codeOutputView(output, slot) {
    const sections = [];
    for (const line of output.split("\n")) {
      const m = /^\[(stdout|stderr|value|error|note|no output)\] ?(.*)$/.exec(line);
      if (m) sections.push({ kind: m[1], lines: m[2] ? [m[2]] : [] });
      else if (sections.length) sections[sections.length - 1].lines.push(line);
      else sections.push({ kind: "output", lines: [line] });
    }
    for (const s of sections) {
      slot.append(el("p", { class: "label", text: s.kind === "no output" ? "No output" : s.kind }));
      const text = s.lines.join("\n").replace(/\n+$/, "");
      if (text) slot.append(el("pre", { class: s.kind }, el("code", { text })));
    }
  }

  function safeUrl(text) {
    try {
      const url = new URL(text);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (_err) {
      return null;
    }
  }

  /** Text with the index's **matches** as <mark>, everything else as plain text. */
  function highlighted(node, text) {
    text.split(/\*\*([^*\n]+)\*\*/).forEach((part, i) => {
      node.append(i % 2 ? el("mark", { text: part }) : document.createTextNode(part));
    });
    return node;
  }

  function searchView(output, slot) {
    const hits = [];
    let hit = null;
    let inSnippet = false;
    for (const line of output.split("\n")) {
      if (/^<result index="\d+">$/.test(line)) { hit = { snippet: [] }; inSnippet = false; continue; }
      if (line === "</result>") { if (hit) hits.push(hit); hit = null; continue; }
      if (!hit) continue;
      const m = /^(source|title|url|snippet): ?(.*)$/.exec(line);
      if (m && !inSnippet) {
        if (m[1] === "snippet") { inSnippet = true; hit.snippet.push(m[2]); } else hit[m[1]] = m[2];
      } else if (inSnippet) {
        hit.snippet.push(line);
      }
    }
    if (!hits.length) {
      slot.append(el("pre", { text: output }));
      return;
    }
    slot.append(el("p", { class: "label", text: `${hits.length} result${hits.length === 1 ? "" : "s"} (untrusted)` }));
    const list = el("ul", { class: "hits" });
    for (const h of hits) {
      const url = h.url ? safeUrl(h.url) : null;
      const title = url
        ? el("a", { href: url, target: "_blank", rel: "noopener noreferrer nofollow", text: h.title || url })
        : document.createTextNode(h.title || "(untitled)");
      list.append(el("li", { class: "hit" },
        el("div", { class: "hit-title" }, title),
        el("div", { class: "hit-source", text: `Source: ${h.source || "?"}${url ? ` · ${url}` : ""}` }),
        highlighted(el("p", { class: "hit-snippet" }), h.snippet.join("\n"))));
    }
    slot.append(list);
  }

  function toolResult(turn, event) {
    let entry = turn.cards.get(event.id);
    if (!entry) {
      toolCard(turn, { id: event.id, name: event.name, arguments: {} });
      entry = turn.cards.get(event.id);
    }
    const { badge, result } = entry;
    result.replaceChildren();
    badge.className = `badge ${event.ok ? "ok" : "failed"}`;
    badge.textContent = event.ok ? "done" : `failed${event.error_kind ? `: ${event.error_kind}` : ""}`;
    if (!event.ok) {
      result.append(el("pre", { class: "error", text: event.output }));
    } else if (event.name === "check_proof") {
      verdictView(event.output, result, badge);
    } else if (event.name === "run_python") {
      codeOutputView(event.output, result);
    } else if (event.name === "search") {
      searchView(event.output, result);
    } else {
      result.append(el("p", { class: "label", text: "Output" }), el("pre", {}, el("code", { text: event.output })));
    }
    scrollDown();
  }

  // ------------------------------------------------------------ approvals

  function approvalCard(turn, data) {
    turn.approvalShown = true;
    const decisions = new Map();
    const card = el("section", { class: "card approval", role: "group", "aria-label": "Approval needed" },
      el("h3", { class: "card-title", text: "Approval needed" }),
      el("p", { class: "muted", text: "The agent paused before these tool calls. Approve, reject or edit each one." }));
    const calls = data.calls || [];

    const maybeSend = async () => {
      if (decisions.size < calls.length) return;
      card.querySelectorAll("button, textarea, input").forEach((n) => { n.disabled = true; });
      const body = { decisions: calls.map((c) => decisions.get(c.call_id)) };
      await runStream(turn, `runs/${encodeURIComponent(data.run_id)}/decisions/stream`, body, (problem) => {
        decisions.clear();
        card.querySelectorAll("button, textarea, input").forEach((n) => { n.disabled = false; });
        card.querySelectorAll(".decided").forEach((n) => { n.textContent = ""; });
        card.querySelector(".approval-error").textContent = problem;
      });
    };

    for (const call of calls) {
      const argsId = nextId("args");
      const reasonId = nextId("reason");
      const args = el("textarea", { id: argsId, rows: 4, readonly: true, spellcheck: "false" });
      args.value = JSON.stringify(call.arguments, null, 2);
      const reason = el("input", { type: "text", id: reasonId, placeholder: "Optional: why not" });
      const problem = el("p", { class: "error-text", role: "alert" });
      const decided = el("p", { class: "decided", "aria-live": "polite" });
      const decide = (decision, label) => {
        decisions.set(call.call_id, decision);
        decided.textContent = label;
        problem.textContent = "";
        maybeSend();
      };
      const approve = el("button", { type: "button", class: "primary", onclick: () => decide({ call_id: call.call_id, action: "approve" }, "Approved") }, "Approve");
      const reject = el("button", {
        type: "button", class: "danger",
        onclick: () => decide({ call_id: call.call_id, action: "reject", message: reason.value.trim() || "The user rejected this call." }, "Rejected"),
      }, "Reject");
      const edit = el("button", { type: "button" }, "Edit");
      edit.addEventListener("click", () => {
        if (args.readOnly) {
          args.readOnly = false;
          edit.textContent = "Send edited call";
          args.focus();
          return;
        }
        let parsed;
        try {
          parsed = JSON.parse(args.value);
        } catch (_err) {
          problem.textContent = "The arguments are not valid JSON.";
          args.focus();
          return;
        }
        decide({ call_id: call.call_id, action: "edit", arguments: parsed }, "Edited");
      });
      const intent = call.intent ? el("p", { class: "intent" }, el("strong", { text: "Intent: " }), call.intent) : null;
      card.append(el("div", { class: "call", role: "group", "aria-label": `Tool call ${call.tool}` },
        el("h4", { class: "card-title" }, "Tool ", el("code", { text: call.tool })),
        intent,
        el("label", { for: argsId, text: `Arguments for ${call.tool} (JSON)` }), args,
        el("label", { for: reasonId, text: "Reason, if you reject" }), reason,
        problem,
        el("div", { class: "buttons" }, approve, reject, edit),
        decided));
    }
    card.append(el("p", { class: "approval-error error-text", role: "alert" }));
    turn.add(card);
    const first = card.querySelector("button");
    if (first) first.focus();
    say("Approval needed: the run is paused.");
  }

  // ------------------------------------------------------------- streams

  function handle(turn, event, data) {
    switch (event) {
      case "run":
        turn.runId = data.run_id;
        if (data.thread_id) setThread(data.thread_id);
        break;
      case "reasoning": turn.addReasoning(data.text); break;
      case "reasoning_gone": turn.noteReasoningGone(); break;
      case "answer_delta": turn.addAnswer(data.text); break;
      case "tool_call": toolCard(turn, data); break;
      case "tool_result": toolResult(turn, data); break;
      case "retry": say(`The model call is being retried (${data.reason}).`); break;
      case "approval_required": turn.runId = data.run_id || turn.runId; approvalCard(turn, data); break;
      case "error": turn.fail(`The run failed: ${data.message}`); turn.finished = true; break;
      case "final":
        if (data.result.outcome === "awaiting_approval" && !turn.approvalShown && data.result.pending) {
          approvalCard(turn, { run_id: data.result.run_id || turn.runId, calls: data.result.pending });
        }
        turn.finish(data.result);
        break;
      default: break;
    }
  }

  async function consume(turn, response) {
    for await (const frame of sseFrames(response)) {
      if (frame.id) turn.lastEventId = frame.id;
      let data;
      try { data = JSON.parse(frame.data); } catch (_err) { continue; }
      handle(turn, frame.event, data);
    }
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  /** After a dropped connection, follow the run again from the last event seen (if the server keeps runs). */
  async function resume(turn, signal) {
    for (let attempt = 0; attempt < 4 && !signal.aborted; attempt++) {
      say("The connection dropped; reconnecting…");
      await sleep(400 * 2 ** attempt);
      let response;
      try {
        response = await api(`runs/${encodeURIComponent(turn.runId)}/events`, {
          headers: turn.lastEventId ? { "Last-Event-ID": turn.lastEventId } : {}, signal,
        });
      } catch (err) {
        if (signal.aborted) throw err;
        continue;
      }
      if (!response.ok) return false;
      try {
        await consume(turn, response);
        if (turn.finished) { say("Reconnected."); return true; }
      } catch (err) {
        if (signal.aborted) throw err;
      }
    }
    return false;
  }

  function setRunning(running) {
    state.running = running;
    ui.send.disabled = running;
    ui.stop.hidden = !running;
    ui.log.setAttribute("aria-busy", running ? "true" : "false");
  }

  /** POST ``body`` to ``path`` and stream the events into ``turn``; ``onRefused`` gets a 4xx message. */
  async function runStream(turn, path, body, onRefused) {
    const controller = new AbortController();
    state.controller = controller;
    turn.finished = false;
    turn.answering = false;
    setRunning(true);
    say("Working…");
    try {
      const response = await api(path, { method: "POST", json: body, signal: controller.signal });
      if (!response.ok) {
        const message = await errorText(response);
        if (onRefused) onRefused(message);
        else turn.fail(response.status === 409 ? `${message}. Wait for it to finish or start a new thread.` : message);
        say(message);
        return;
      }
      try {
        await consume(turn, response);
      } catch (err) {
        if (controller.signal.aborted) throw err;
      }
      if (!turn.finished && turn.runId && !(await resume(turn, controller.signal))) {
        turn.fail("The connection dropped and this server cannot resume the stream, so the run was cancelled and nothing was saved.");
      }
      if (turn.finished) say(turn.answer ? "Answer complete." : "Run ended.");
    } catch (err) {
      if (controller.signal.aborted) {
        turn.fail("Stopped. A stopped run saves nothing.");
        say("Stopped.");
      } else if (err && err.message === "no token") {
        turn.fail("A bearer token is needed to use this server.");
      } else {
        turn.fail(`The request failed: ${err && err.message ? err.message : err}`);
      }
    } finally {
      if (state.controller === controller) state.controller = null;
      setRunning(false);
      if (turn.answer) turn.answer.classList.remove("streaming");
      loadThreads();
    }
  }

  async function ask(question) {
    const turn = new Turn(question);
    const body = { question };
    if (state.threadId) body.thread_id = state.threadId;
    if (state.allowReasoning && ui.showReasoning.checked) body.include_reasoning = true;
    await runStream(turn, `agents/${encodeURIComponent(ui.agent.value)}/runs/stream`, body);
  }

  // --------------------------------------------------------------- threads

  function setThread(threadId) {
    state.threadId = threadId;
    for (const button of ui.threads.querySelectorAll(".open-thread")) {
      button.setAttribute("aria-current", button.dataset.thread === threadId ? "true" : "false");
    }
  }

  function clearLog() {
    ui.log.replaceChildren(ui.welcome);
    ui.welcome.hidden = false;
  }

  async function loadThreads() {
    let response;
    try {
      response = await api("threads");
    } catch (_err) {
      return;
    }
    if (!response.ok) {
      ui.threadsEmpty.hidden = false;
      ui.threadsEmpty.textContent = response.status === 501 ? "This server keeps no threads." : await errorText(response);
      return;
    }
    const { threads } = await response.json();
    ui.threads.replaceChildren(...threads.map((t) => {
      const title = t.title || t.thread_id;
      const open = el("button", {
        type: "button", class: "open-thread", "data-thread": t.thread_id, title,
        "aria-current": t.thread_id === state.threadId ? "true" : "false",
        onclick: () => openThread(t.thread_id),
      }, title);
      const remove = el("button", {
        type: "button", class: "delete-thread", "aria-label": `Delete thread: ${title}`, title: "Delete thread",
        onclick: () => deleteThread(t.thread_id, title),
      }, "✕");
      return el("li", {}, open, remove);
    }));
    ui.threadsEmpty.hidden = threads.length > 0;
    ui.threadsEmpty.textContent = "No saved threads yet.";
  }

  async function openThread(threadId) {
    if (state.running) { say("Wait for the current run to finish (or stop it) first."); return; }
    const response = await api(`threads/${encodeURIComponent(threadId)}`);
    if (!response.ok) { say(await errorText(response)); loadThreads(); return; }
    const history = await response.json();
    clearLog();
    for (const turn of history.turns) {
      const view = new Turn(turn.question);
      view.finished = true;
      const box = view.answerBox();
      box.classList.remove("streaming");
      renderAnswer(box, turn.answer);
    }
    setThread(threadId);
    closeDrawer();
    say(`Thread resumed: ${history.turns.length} earlier turn${history.turns.length === 1 ? "" : "s"}.`);
    ui.question.focus();
  }

  async function deleteThread(threadId, title) {
    const response = await api(`threads/${encodeURIComponent(threadId)}`, { method: "DELETE" });
    if (response.status !== 204 && response.status !== 404) { say(await errorText(response)); return; }
    if (state.threadId === threadId) { state.threadId = null; clearLog(); }
    say(`Thread deleted: ${title}`);
    await loadThreads();
    ui.newThread.focus();
  }

  function closeDrawer() {
    ui.sidebar.classList.remove("open");
    ui.menu.setAttribute("aria-expanded", "false");
  }

  // ------------------------------------------------------------ controls

  function applyTheme(theme) {
    document.documentElement.dataset.theme = theme;
    ui.theme.setAttribute("aria-pressed", theme === "dark" ? "true" : "false");
    ui.theme.textContent = theme === "dark" ? "Light theme" : "Dark theme";
  }

  ui.theme.addEventListener("click", () => {
    const theme = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
    localStorage.setItem("ponder.theme", theme);
    applyTheme(theme);
  });

  ui.menu.addEventListener("click", () => {
    const open = !ui.sidebar.classList.contains("open");
    ui.sidebar.classList.toggle("open", open);
    ui.menu.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) ui.newThread.focus();
  });

  ui.newThread.addEventListener("click", () => {
    if (state.running) { say("Wait for the current run to finish (or stop it) first."); return; }
    state.threadId = null;
    setThread(null);
    clearLog();
    closeDrawer();
    say("New thread.");
    ui.question.focus();
  });

  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const question = ui.question.value;
    if (!question.trim() || state.running) return;
    ui.question.value = "";
    ask(question);
  });

  ui.question.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      ui.form.requestSubmit();
    }
  });

  ui.stop.addEventListener("click", () => { if (state.controller) state.controller.abort(); });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && state.controller && !ui.tokenDialog.open) state.controller.abort();
  });

  document.querySelector(".skip").addEventListener("click", (event) => {
    event.preventDefault();
    ui.question.focus();
  });

  ui.agent.addEventListener("change", () => localStorage.setItem("ponder.agent", ui.agent.value));

  async function init() {
    applyTheme(localStorage.getItem("ponder.theme")
      || (window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light"));
    ui.signOut.hidden = !sessionStorage.getItem(TOKEN_KEY);
    let config;
    try {
      const response = await api("agents");
      if (!response.ok) { say(await errorText(response)); return; }
      config = await response.json();
    } catch (err) {
      say(err && err.message === "no token" ? "A bearer token is needed to use this server." : "The server cannot be reached.");
      return;
    }
    const saved = localStorage.getItem("ponder.agent");
    ui.agent.replaceChildren(...config.agents.map((a) => el("option", { value: a.name, selected: a.name === saved }, a.name)));
    state.allowReasoning = Boolean(config.allow_reasoning);
    ui.reasoningOption.hidden = !state.allowReasoning;
    document.body.dataset.ready = "true";
    await loadThreads();
  }

  init();
})();
