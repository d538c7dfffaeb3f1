// Sign-in with the authorization code flow and PKCE (RFC 7636, S256), against Cognito's hosted UI once
// deployed and the local stand-in in local mode: the same endpoints and parameters. config.json names the
// authority (the hosted UI's base URL) and the app client. The ID token lives in sessionStorage (this
// tab only) and goes to the API in the `Authorization` header; the API checks it and the roles.
const TOKEN = "rm-console-id-token";
const VERIFIER = "rm-console-pkce-verifier";
const STATE = "rm-console-pkce-state";
const RETURN_TO = "rm-console-return-to";

function base64url(bytes) {
  let text = "";
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(length) {
  return base64url(crypto.getRandomValues(new Uint8Array(length)));
}

export async function loadConfig() {
  const response = await fetch("config.json", { cache: "no-store" });
  if (!response.ok) throw new Error(`config.json: ${response.status}`);
  return response.json();
}

export function claims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(decodeURIComponent(escape(atob(part))));
  } catch {
    return null;
  }
}

/** The ID token if one is held and not about to expire; else null. */
export function currentToken() {
  const token = sessionStorage.getItem(TOKEN);
  if (!token) return null;
  const found = claims(token);
  if (!found || !found.exp || found.exp * 1000 < Date.now() + 30_000) {
    sessionStorage.removeItem(TOKEN);
    return null;
  }
  return token;
}

export async function signIn(config) {
  const verifier = randomString(48);
  const state = randomString(16);
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem(VERIFIER, verifier);
  sessionStorage.setItem(STATE, state);
  sessionStorage.setItem(RETURN_TO, window.location.hash || "#/");
  const params = new URLSearchParams({
    response_type: "code",
    client_id: config.client_id,
    redirect_uri: config.redirect_uri,
    scope: "openid email",
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  window.location.assign(`${config.authority}/oauth2/authorize?${params}`);
}

/** Back from the hosted UI with ?code=&state=: trade the code (and the verifier) for the tokens. */
export async function finishSignIn(config) {
  const params = new URLSearchParams(window.location.search);
  if (!params.has("code")) return false;
  const verifier = sessionStorage.getItem(VERIFIER);
  const expected = sessionStorage.getItem(STATE);
  sessionStorage.removeItem(VERIFIER);
  sessionStorage.removeItem(STATE);
  const returnTo = sessionStorage.getItem(RETURN_TO) || "#/";
  window.history.replaceState(null, "", window.location.pathname + returnTo);
  if (!verifier || !expected || params.get("state") !== expected) {
    throw new Error("the sign-in answer does not match the request (state); sign in again");
  }
  // A cross-origin POST to the Cognito domain. Kept a CORS "simple request" (form-urlencoded body, no custom
  // header, no credentials), so the browser sends no preflight and only needs the token endpoint's
  // Access-Control-Allow-Origin on the answer, which Cognito's hosted-UI token endpoint sends: browsers
  // complete code + PKCE sign-ins against it with fetch (aws-amplify/amplify-js#5284; the CSP must list the
  // domain in connect-src: aws/context-ontology-accelerator#130, see infra/constructs/console.py).
  let response;
  try {
    response = await fetch(`${config.authority}/oauth2/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      credentials: "omit",
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: config.client_id,
        code: params.get("code"),
        redirect_uri: config.redirect_uri,
        code_verifier: verifier,
      }),
    });
  } catch (error) {
    // A refused cross-origin answer (CORS) or the network: say so instead of a bare TypeError.
    throw new Error(`sign-in failed: the sign-in service at ${config.authority} could not be reached (${error.message})`);
  }
  const tokens = await response.json().catch(() => ({}));
  if (!response.ok || !tokens.id_token) throw new Error(`sign-in failed: ${tokens.error || response.status}`);
  sessionStorage.setItem(TOKEN, tokens.id_token);
  return true;
}

export function signOut(config) {
  sessionStorage.removeItem(TOKEN);
  const params = new URLSearchParams({ client_id: config.client_id, logout_uri: config.redirect_uri });
  window.location.assign(`${config.authority}/logout?${params}`);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN);
}
