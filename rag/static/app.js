// The page: asks /ask over Server-Sent Events, renders the streamed answer and its citations,
// and opens a citation in its surrounding transcript text (/context). No dependencies.
"use strict";

const $ = (id) => document.getElementById(id);
// With RAG_API_TOKEN set, open the page as /#token=...: the fragment never reaches the server or its
// logs. The token is kept for this tab and taken out of the address bar.
const token = (() => {
  const m = location.hash.match(/(?:^#|&)token=([^&]+)/);
  if (m) {
    sessionStorage.setItem("rag-token", decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem("rag-token");
})();
const auth = token ? { Authorization: "Bearer " + token } : {};

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

async function errorDetail(resp) {
  try {
    const body = await resp.json();
    const d = body.detail;
    return Array.isArray(d) ? d.map((e) => e.msg).join("; ") : String(d);
  } catch (_) {
    return resp.status + " " + resp.statusText;
  }
}

// Parse a fetch() body of Server-Sent Events, calling onEvent(name, data) per event.
async function readEvents(resp, onEvent) {
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const raw = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let name = "message", data = "";
      for (const line of raw.split("\n")) {
        if (line.startsWith("event: ")) name = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (data) onEvent(name, JSON.parse(data));
    }
  }
}

// Answer text with [n] markers turned into buttons that open citation n.
// What kind of answer this is (extractive, offline), shown once above it.
function showNotice(text) {
  $("notice").textContent = text || "";
  $("notice").hidden = !text;
}

function renderAnswer(text, citations) {
  const box = $("answer");
  box.textContent = "";
  const byN = new Map(citations.map((c) => [c.n, c]));
  let last = 0;
  for (const m of text.matchAll(/\[(\d+)\]/g)) {
    box.append(text.slice(last, m.index));
    const c = byN.get(Number(m[1]));
    if (c) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "cite";
      b.textContent = m[0];
      b.title = c.title + " — " + c.source;
      b.addEventListener("click", () => openContext(c));
      box.append(b);
    } else {
      box.append(m[0]);
    }
    last = m.index + m[0].length;
  }
  box.append(text.slice(last));
}

// Where each citation is; its quote too, unless the answer text already shows it (extractive answers).
function renderCitations(citations, quotesInAnswer) {
  const list = $("citations");
  list.textContent = "";
  for (const c of citations) {
    const li = document.createElement("li");
    li.value = c.n;
    const [title, where] = passageHead(c);
    if (c.time_start !== null && c.time_start !== undefined) {
      // A timed transcript: when it was said, and by whom; the time opens the audio at that moment.
      const when = document.createElement(c.audio ? "a" : "span");
      when.className = "when";
      when.textContent = " [" + clock(c.time_start) + "–" + clock(c.time_end) + "]";
      if (c.audio) { when.href = c.audio + "#t=" + Math.floor(c.time_start); when.target = "_blank"; }
      where.append(when);
      if (c.speaker) where.append(" " + c.speaker + ":");
    }
    li.append(title, where);
    if (!quotesInAnswer) {
      const quote = document.createElement("blockquote");
      quote.textContent = c.text;
      li.append(quote);
    }
    list.append(li);
  }
}

// "show, date — " of a passage's episode, when its metadata says.
function episode(p) {
  const parts = [p.show, p.date].filter(Boolean);
  return parts.length ? parts.join(", ") + " — " : "";
}

// A passage's title, which opens it in context, and where it is: episode, file, characters.
function passageHead(p) {
  const title = document.createElement("a");
  title.href = "#";
  title.className = "title";
  title.textContent = p.title;
  title.addEventListener("click", (e) => { e.preventDefault(); openContext(p); });
  const where = document.createElement("div");
  where.className = "where";
  where.textContent = episode(p) + p.source + ", chars " + p.start + "–" + p.end;
  return [title, where];
}

// A refusal shows the nearest passages the transcripts have; each opens in context like a citation.
function renderNearest(hits) {
  const list = $("nearest");
  list.textContent = "";
  for (const h of hits.slice(0, 2)) {
    const li = document.createElement("li");
    const [title, where] = passageHead(h);
    const text = document.createElement("blockquote");
    text.textContent = h.text.length > 160 ? h.text.slice(0, 160) + "…" : h.text;
    li.append(title, where, text);
    list.append(li);
  }
  $("nearest-box").hidden = hits.length === 0;
}

// The episodes of the index, listed when the panel is first opened.
async function loadSources() {
  const resp = await fetch("sources", { headers: auth });
  if (!resp.ok) { $("sources-list").textContent = await errorDetail(resp); return; }
  const rows = (await resp.json()).sources;
  $("sources-list").replaceChildren(...rows.map((s) => {
    const li = document.createElement("li");
    const title = document.createElement("span");
    title.className = "title";
    title.textContent = s.title;
    const where = document.createElement("div");
    where.className = "where";
    where.textContent = episode(s) + s.source + " — " + s.passages + " passages";
    li.append(title, where);
    return li;
  }));
}

function clock(seconds) {
  const s = Math.floor(seconds), two = (n) => String(n).padStart(2, "0");
  return s >= 3600 ? Math.floor(s / 3600) + ":" + two(Math.floor(s / 60) % 60) + ":" + two(s % 60)
                   : Math.floor(s / 60) + ":" + two(s % 60);
}

async function openContext(c) {
  const params = new URLSearchParams({ source: c.source, start: c.start, end: c.end, window: 800 });
  const resp = await fetch("context?" + params, { headers: auth });
  if (!resp.ok) { setStatus("Could not open the passage: " + (await errorDetail(resp)), true); return; }
  const ctx = await resp.json();
  $("context-title").textContent = ctx.title;
  $("context-where").textContent = episode(c) + ctx.source + ", chars " + c.start + "–" + c.end;
  const text = $("context-text");
  const mark = document.createElement("mark");
  mark.textContent = ctx.quote;
  text.replaceChildren((ctx.start > 0 ? "…" : "") + ctx.before, mark, ctx.after + "…");
  $("context").hidden = false;
  mark.scrollIntoView({ block: "center" });
}

// The conversation: earlier questions, sent with each new one so that a follow-up ("and Meta?")
// is searched with what it refers to. "New conversation" forgets them.
const asked = [];  // (not "history": that would hide window.history)

function renderConversation() {
  $("conversation").hidden = asked.length === 0;
  $("turns").replaceChildren(...asked.map((q) => { const li = document.createElement("li"); li.textContent = q; return li; }));
}

async function ask(question) {
  $("submit").disabled = true;
  $("result").hidden = false;
  $("answer").textContent = "";
  showNotice("");
  $("answer").className = "answer";
  $("citations").textContent = "";
  renderNearest([]);
  $("context").hidden = true;
  setStatus("Searching the transcripts…");
  try {
    const resp = await fetch("ask", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream", ...auth },
      body: JSON.stringify({ question, history: asked }),
    });
    if (!resp.ok) { setStatus(await errorDetail(resp), true); $("result").hidden = true; return; }
    let streamed = "";
    await readEvents(resp, (name, data) => {
      if (name === "hits") setStatus("Found " + data.length + " passages; answering…");
      else if (name === "notice") showNotice(data.text);
      else if (name === "delta") { streamed += data.text; $("answer").textContent = streamed; }
      else if (name === "answer") {
        showNotice(data.notice);
        if (data.abstained) {
          // the refusal's first paragraph; the nearest passages are listed below it, each openable
          renderAnswer(data.answer.split("\n\n")[0], []);
          renderNearest(data.hits);
        } else renderAnswer(data.answer, data.citations);
        renderCitations(data.citations, data.mode === "extractive");
        if (data.abstained) $("answer").classList.add("abstained");
        const notes = (data.searched ? " — searched as: " + data.searched : "") +
                      (data.warnings.length ? " — " + data.warnings.join("; ") : "");
        asked.push(question);
        renderConversation();
        setStatus((data.abstained ? "Not covered by the transcripts" : data.mode === "llm" ? "Answered by the language model" : "Extractive answer") + notes);
      } else if (name === "error") setStatus(data.detail, true);
    });
  } catch (err) {
    setStatus("Connection failed: " + err.message, true);
  } finally {
    $("submit").disabled = false;
  }
}

$("ask").addEventListener("submit", (e) => {
  e.preventDefault();
  const q = $("question").value.trim();
  if (q) ask(q);
});
$("question").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("ask").requestSubmit(); }
});
$("context-close").addEventListener("click", () => { $("context").hidden = true; });
$("sources").addEventListener("toggle", () => { if ($("sources").open && !$("sources-list").children.length) loadSources(); });
$("new-conversation").addEventListener("click", () => { asked.length = 0; renderConversation(); $("question").focus(); });
