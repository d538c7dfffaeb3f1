"""The embed code of a form: the HTML a web designer pastes into a page (GET /v1/forms/{form_id}/embed).

* Works without JavaScript: a plain ``<form method=post>`` to the form route; the browser then shows the
  API's readable thank-you or error page (or the form's redirect).
* Accessible: every input has a ``<label for>``; required fields are marked ``required`` and in words;
  the status line is an ARIA live region.
* The honeypot (``website``) is moved off-screen, not ``display:none`` (which some bots skip), hidden from
  assistive technology (``aria-hidden``), out of the tab order and of autofill: people never fill it in.
* Consent checkboxes carry the form's exact wording and are never ticked in advance.
* Optional progressive enhancement (``script=True``): a small script sends the same form with ``fetch``
  (multipart ``FormData``, asking for JSON) and shows the answer in place; without it, or if it fails to
  load, the form still posts as a navigation.
"""

from __future__ import annotations

import html
import json

from shared.tracking.forms import AUTOCOMPLETE, FormDefinition
from shared.tracking.pages import texts

_HONEYPOT_STYLE = "position:absolute;left:-10000px;top:auto;width:1px;height:1px;overflow:hidden"
_REQUIRED = {"en": "required", "fr": "obligatoire"}
_SUBMIT = {"en": "Send", "fr": "Envoyer"}

# Progressive enhancement: post with fetch, show the answer in the live region; any failure to reach the
# API falls back to a normal post (the visitor then gets the readable page).
_SCRIPT = """<script>
(function () {
  var form = document.getElementById(%(form_id)s);
  if (!form || !window.fetch || !window.FormData) return;
  var status = form.querySelector("[role=status]");
  var words = %(words)s;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var button = form.querySelector("[type=submit]");
    button.disabled = true;
    fetch(form.action, {method: "POST", body: new FormData(form), headers: {Accept: "application/json"}})
      .then(function (response) {
        return response.json().then(function (body) {
          if (response.ok) {
            var inbox = body.confirmation_email ? " " + words.check_inbox : "";
            status.textContent = words.thanks + inbox;
            form.reset();
          } else {
            var text = words.errors[body.code] || words.unknown;
            status.textContent = text.replace("{fields}", (body.fields || []).join(", "));
          }
        });
      })
      .catch(function () { form.submit(); })
      .finally(function () { button.disabled = false; });
  });
})();
</script>"""


def _attr(value: str) -> str:
    return html.escape(value, quote=True)


def embed_code(form_id: str, form: FormDefinition, action: str, script: bool = False) -> str:
    """The HTML to paste for ``form_id``, posting to ``action`` (the form route's public URL)."""
    lang = form.base_language
    words = texts(lang)
    required_word = _REQUIRED.get(lang, _REQUIRED["en"])
    element_id = f"rm-form-{form_id}"
    lines = [
        f"<form id='{_attr(element_id)}' class='rm-form' method='post' action='{_attr(action)}' "
        f"accept-charset='utf-8' lang='{_attr(form.language)}'>"
    ]
    if form.title:
        lines.append(f"  <h2>{html.escape(form.title)}</h2>")
    for field in form.fields or ():
        input_id = f"{element_id}-{field.name}"
        mark = f" <span>({html.escape(required_word)})</span>" if field.required else ""
        label = f"    <label for='{_attr(input_id)}'>{html.escape(field.label)}{mark}</label><br>"
        attributes = (
            f"id='{_attr(input_id)}' name='{field.name}' maxlength='{field.limit}'"
            + (" required" if field.required else "")
            + (f" autocomplete='{AUTOCOMPLETE[field.name]}'" if field.name in AUTOCOMPLETE else "")
        )
        control = (
            f"<textarea {attributes} rows='5'></textarea>"
            if field.type == "textarea"
            else f"<input type='{field.type}' {attributes}>"
        )
        lines += ["  <p>", label, f"    {control}", "  </p>"]
    for box in form.consent or ():
        input_id = f"{element_id}-consent-{box.channel}"
        lines += [
            "  <p>",
            f"    <input type='checkbox' id='{_attr(input_id)}' name='consent_{box.channel}' value='on'>",
            f"    <label for='{_attr(input_id)}'>{html.escape(box.wording)}</label>",
            "  </p>",
        ]
    honeypot_id = f"{element_id}-website"
    submit = form.submit_label or _SUBMIT.get(lang, _SUBMIT["en"])
    lines += [
        "  <!-- Leave this field empty: it is a trap for spam robots (people never see it). -->",
        f"  <div aria-hidden='true' style='{_HONEYPOT_STYLE}'>",
        f"    <label for='{_attr(honeypot_id)}'>Website</label>",
        f"    <input type='text' id='{_attr(honeypot_id)}' name='website' tabindex='-1' autocomplete='off'>",
        "  </div>",
        f"  <button type='submit'>{html.escape(submit)}</button>",
        "  <p role='status' aria-live='polite'></p>",
        "</form>",
    ]
    code = "\n".join(lines) + "\n"
    if script:
        words_json = {
            "thanks": words.thanks,
            "check_inbox": words.check_inbox,
            "errors": words.errors,
            "unknown": words.unknown_error,
        }
        code += _SCRIPT % {"form_id": _js(element_id), "words": _js(words_json)} + "\n"
    return code


def _js(value: object) -> str:
    """A JSON literal safe inside a ``<script>`` element (no ``</script>``, no HTML comment openers)."""
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
