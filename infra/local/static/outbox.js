// Local outbox: lists the emails moto's SES accepted (GET /local/outbox, x-api-key header), newest first,
// with their links and raw headers. Readable by a console admin (the console's token in sessionStorage),
// or with the API key (?key=... once).
(function () {
  "use strict";
  const KEY_STORAGE = "rm-api-key";
  const params = new URLSearchParams(location.search);
  if (params.has("key")) {
    sessionStorage.setItem(KEY_STORAGE, params.get("key") || "");
    params.delete("key");
    history.replaceState(null, "", location.pathname + (params.toString() ? "?" + params : ""));
  }

  function element(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function render(emails) {
    const list = document.getElementById("emails");
    list.replaceChildren();
    for (const mail of emails.slice().reverse()) {
      const card = element("article", undefined, "card wide email");
      card.dataset.testid = "email";
      card.append(element("h2", `#${mail.number} ${mail.subject}`));
      card.append(element("p", `To ${mail.to} — from ${mail.from}${mail.date ? " — " + mail.date : ""}`, "muted"));
      if (mail.links.length) {
        const links = element("ul");
        for (const href of mail.links) {
          const item = element("li");
          const anchor = element("a", href);
          anchor.href = href;
          anchor.rel = "noreferrer";
          item.append(anchor);
          links.append(item);
        }
        card.append(links);
      }
      const details = element("details");
      details.append(element("summary", "Raw headers and body"));
      details.append(element("pre", mail.headers + "\n\n" + mail.body));
      card.append(details);
      list.append(card);
    }
  }

  async function load() {
    const status = document.getElementById("status");
    const app = document.getElementById("outbox-app");
    try {
      const response = await fetch("/local/outbox", {
        headers: {
          "x-api-key": sessionStorage.getItem(KEY_STORAGE) || "",
          // Or the console's sign-in (an admin's ID token), kept by the console in this tab.
          Authorization: sessionStorage.getItem("rm-console-id-token") || "",
          Accept: "application/json",
        },
      });
      if (!response.ok) throw new Error(response.status === 403 ? "sign in to the console as an admin first (or open with ?key=)" : `HTTP ${response.status}`);
      const { emails } = await response.json();
      render(emails);
      status.textContent = `${emails.length} emails`;
      app.dataset.state = "ready";
    } catch (error) {
      status.textContent = `Cannot read the outbox: ${error.message}`;
      app.dataset.state = "error";
    }
  }

  document.getElementById("refresh").addEventListener("click", load);
  load();
})();
