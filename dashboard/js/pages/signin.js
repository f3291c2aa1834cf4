// Sign in with e-mail and password; on success go where the user was headed.

import { ApiError, session, signIn } from "../api.js";
import { errorBox, h } from "../dom.js";

export async function render(root, { query }) {
  const next = safeNext(query.get("next"));
  if (session) {
    location.replace(next);
    return;
  }
  const email = h("input", { id: "signin-email", name: "email", type: "email", autocomplete: "username", required: true });
  const password = h("input", { id: "signin-password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const message = h("div", { "aria-live": "assertive" });
  const button = h("button", { class: "btn btn-primary", type: "submit" }, "Sign in");
  const form = h("form", { class: "signin card", novalidate: true },
    h("h1", { tabindex: "-1" }, "Sign in"),
    h("p", { class: "muted" }, "AI Agents Platform: the marketplace, dashboards and workflows of your tenant."),
    h("div", { class: "field" }, h("label", { for: "signin-email" }, "E-mail"), email),
    h("div", { class: "field" }, h("label", { for: "signin-password" }, "Password"), password),
    message,
    h("div", { class: "form-actions" }, button));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.replaceChildren();
    if (!email.value || !password.value) {
      message.append(errorBox({ message: "Enter your e-mail and password.", field: !email.value ? "E-mail" : "Password" }));
      (!email.value ? email : password).focus();
      return;
    }
    button.disabled = true;
    button.textContent = "Signing in…";
    try {
      await signIn(email.value.trim(), password.value);
      location.replace(next);
    } catch (err) {
      const wrong = err instanceof ApiError && err.status === 401;
      message.append(errorBox(wrong ? { message: "Wrong e-mail or password." } : err));
      password.select();
      password.focus();
    } finally {
      button.disabled = false;
      button.textContent = "Sign in";
    }
  });
  root.append(form);
  email.focus();
}

/** Only a hash of this app: never a URL elsewhere. */
function safeNext(value) {
  return value && /^#\/[\w\-/?=&%.]*$/.test(value) && !value.startsWith("#/signin") ? value : "#/agents";
}
