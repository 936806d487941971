// The playground's live answer: posts the form to /api/playground and shows the newline-delimited JSON
// events as they arrive. Every value goes in with textContent, never as HTML. Without this script the form
// posts to the page, which shows the same things once the answer is complete.
"use strict";

(function () {
  const form = document.getElementById("playground");
  if (!form || !window.fetch || !window.TextDecoder) {
    return;
  }
  const $ = (id) => document.getElementById(id);

  function setText(id, text) {
    $(id).textContent = text;
  }

  function showPlan(plan) {
    setText("pg-decision", plan.decision);
    const warnings = $("pg-warnings");
    warnings.replaceChildren();
    for (const w of plan.warnings) {
      const item = document.createElement("li");
      item.textContent = w;
      warnings.appendChild(item);
    }
    setText("pg-provider", "(" + plan.provider + ")");
    setText(
      "pg-request",
      plan.request === null
        ? "The model is not asked: the trained answer is sent as is."
        : JSON.stringify(plan.request, null, 2)
    );
    const body = $("pg-matches").tBodies[0];
    body.replaceChildren();
    if (plan.matches.length === 0) {
      const row = body.insertRow();
      const cell = row.insertCell();
      cell.colSpan = 6;
      cell.className = "empty";
      cell.textContent = "No trained answer or knowledge entry matched.";
    }
    for (const m of plan.matches) {
      const row = body.insertRow();
      row.insertCell().textContent = m.kind;
      row.insertCell().textContent =
        "#" + m.id + " " + m.title + (m.source ? " (" + m.source + ")" : "");
      for (const value of [m.confidence, m.lexical, m.semantic]) {
        const cell = row.insertCell();
        cell.className = "num";
        cell.textContent = value === null ? "–" : value.toFixed(2);
      }
      row.insertCell().textContent = m.used ? "yes" : "no";
    }
  }

  function fieldErrors(body) {
    document.querySelectorAll("form.playground .field-error.live").forEach((e) => e.remove());
    for (const f of body.fields || []) {
      const input = $(f.field);
      if (!input) {
        continue;
      }
      const p = document.createElement("p");
      p.className = "field-error live";
      p.id = f.field + "-error";
      p.textContent = f.message;
      input.after(p);
    }
  }

  function handle(event, state) {
    switch (event.type) {
      case "plan":
        showPlan(event);
        break;
      case "delta":
        state.answer += event.text;
        setText("pg-answer", state.answer);
        break;
      case "restart":
        state.answer = "";
        setText("pg-answer", "");
        break;
      case "done": {
        state.ended = true;
        setText("pg-answer", event.text);
        let line = "Done in " + (event.elapsed_ms / 1000).toFixed(1) + " s";
        if (event.prompt_tokens !== null && event.completion_tokens !== null) {
          line += "; " + event.prompt_tokens + " prompt + " + event.completion_tokens + " answer tokens";
        }
        setText("pg-ending", line);
        $("pg-ending").className = "";
        break;
      }
      case "failed":
        state.ended = true;
        setText("pg-ending", "The model failed: " + event.message);
        $("pg-ending").className = "error";
        if (event.fallback) {
          setText("pg-fallback", event.fallback);
          $("pg-fallback-box").hidden = false;
        }
        break;
    }
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const button = $("ask");
    button.disabled = true;
    setText("pg-status", "Asking…");
    $("pg-fallback-box").hidden = true;
    setText("pg-answer", "");
    setText("pg-ending", "");
    const data = new FormData(form);
    const state = { answer: "", ended: false };
    try {
      const response = await fetch("/api/playground", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": data.get("csrf") },
        body: JSON.stringify({
          guild: data.get("guild"),
          member: data.get("member"),
          question: data.get("question"),
        }),
      });
      if (!response.ok) {
        const body = await response.json().catch(() => ({ message: response.statusText }));
        fieldErrors(body);
        setText("pg-status", body.message);
        return;
      }
      fieldErrors({});
      $("pg-result").hidden = false;
      setText("pg-status", "Answering…");
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffered = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) {
          break;
        }
        buffered += decoder.decode(value, { stream: true });
        let newline;
        while ((newline = buffered.indexOf("\n")) >= 0) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          if (line.trim() !== "") {
            handle(JSON.parse(line), state);
          }
        }
      }
      setText("pg-status", state.ended ? "" : "The answer stopped before its end.");
    } catch (err) {
      setText("pg-status", "Could not ask: " + err.message);
    } finally {
      button.disabled = false;
    }
  });
})();
