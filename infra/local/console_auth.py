"""The console's sign-in in local mode: moto's Cognito user pool, plus a small stand-in for the hosted UI.

moto implements the user pool API (users, groups, ``InitiateAuth``) and signs ID tokens (RS256, with the
groups in ``cognito:groups``) with a key it publishes at ``/<pool id>/.well-known/jwks.json``; it has no
hosted UI, i.e. no ``/oauth2/authorize`` and ``/oauth2/token`` endpoints. :class:`HostedUiStandIn` is
that piece, served by the local adapter with Cognito's paths and parameters (authorization code + PKCE,
S256 only): the sign-in form checks the password with moto's ``InitiateAuth`` (USER_PASSWORD_AUTH) and
the token endpoint hands out the tokens moto issued, once, to the holder of the code verifier.
:class:`TokenVerifier` is what API Gateway's Cognito authorizer does: it checks the ID token's signature
against moto's published keys, issuer, audience, expiry and ``token_use`` before a private route runs.

The console page is the same in both places: it reads ``config.json`` (authority, client id) and runs the
authorization code flow with PKCE against the authority.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import boto3
import jwt

POOL_NAME = "relationship-marketing-local-console"
CLIENT_NAME = "console"
GROUPS = {
    "marketing": "Segments, exports, reports and the customer view",
    "admin": "Also campaign switches, scoring runs, GDPR export and erasure",
}
# The local users, one per role (the password is printed when the stack starts; change it with
# RM_LOCAL_CONSOLE_PASSWORD).
DEFAULT_PASSWORD = "Local-console-1"
USERS = {"marketing@example.com": ("marketing",), "admin@example.com": ("admin",)}
CODE_TTL_SECONDS = 300

Page = tuple[int, dict[str, str], bytes]


@dataclass
class LocalCognito:
    """The user pool, app client, groups and users created on moto."""

    region: str
    endpoint_url: str
    password: str = DEFAULT_PASSWORD
    pool_id: str = ""
    client_id: str = ""
    callback_urls: tuple[str, ...] = ()

    def client(self) -> Any:
        return boto3.client("cognito-idp", region_name=self.region, endpoint_url=self.endpoint_url)

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.pool_id}"

    @property
    def jwks_url(self) -> str:
        return f"{self.endpoint_url}/{self.pool_id}/.well-known/jwks.json"

    def create(self, callback_urls: tuple[str, ...]) -> LocalCognito:
        idp = self.client()
        self.callback_urls = callback_urls
        self.pool_id = idp.create_user_pool(
            PoolName=POOL_NAME,
            UsernameAttributes=["email"],
            AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
        )["UserPool"]["Id"]
        self.client_id = idp.create_user_pool_client(
            UserPoolId=self.pool_id,
            ClientName=CLIENT_NAME,
            GenerateSecret=False,
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            AllowedOAuthFlows=["code"],
            AllowedOAuthScopes=["openid", "email"],
            AllowedOAuthFlowsUserPoolClient=True,
            CallbackURLs=list(callback_urls),
            LogoutURLs=list(callback_urls),
            SupportedIdentityProviders=["COGNITO"],
        )["UserPoolClient"]["ClientId"]
        for group, description in GROUPS.items():
            idp.create_group(GroupName=group, UserPoolId=self.pool_id, Description=description)
        for email, groups in USERS.items():
            idp.admin_create_user(
                UserPoolId=self.pool_id,
                Username=email,
                UserAttributes=[
                    {"Name": "email", "Value": email},
                    {"Name": "email_verified", "Value": "true"},
                ],
                MessageAction="SUPPRESS",
            )
            idp.admin_set_user_password(
                UserPoolId=self.pool_id, Username=email, Password=self.password, Permanent=True
            )
            for group in groups:
                idp.admin_add_user_to_group(UserPoolId=self.pool_id, Username=email, GroupName=group)
        return self

    def add_user(self, email: str, groups: tuple[str, ...]) -> None:
        """Another user (tests: a user in no group)."""
        idp = self.client()
        idp.admin_create_user(
            UserPoolId=self.pool_id,
            Username=email,
            UserAttributes=[{"Name": "email", "Value": email}],
            MessageAction="SUPPRESS",
        )
        idp.admin_set_user_password(
            UserPoolId=self.pool_id, Username=email, Password=self.password, Permanent=True
        )
        for group in groups:
            idp.admin_add_user_to_group(UserPoolId=self.pool_id, Username=email, GroupName=group)

    def password_tokens(self, username: str, password: str) -> dict[str, Any]:
        """Tokens for a user name and password (InitiateAuth, USER_PASSWORD_AUTH); raises on a refusal."""
        answer = self.client().initiate_auth(
            ClientId=self.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )
        result: dict[str, Any] = answer["AuthenticationResult"]
        return result

    def id_token(self, username: str) -> str:
        """An ID token for one of the local users (tests and scripts)."""
        return str(self.password_tokens(username, self.password)["IdToken"])

    def console_config(self, authority: str, redirect_uri: str) -> dict[str, Any]:
        return {
            "authority": authority,
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "local": True,
        }


class TokenVerifier:
    """What the Cognito authorizer checks: RS256 signature with the pool's published key, issuer,
    audience (the app client), expiry, and that it is an ID token. Returns the claims, or None."""

    def __init__(self, cognito: LocalCognito) -> None:
        self.cognito = cognito
        self._keys = jwt.PyJWKClient(cognito.jwks_url, cache_keys=True)

    def claims(self, authorization: str) -> dict[str, Any] | None:
        token = authorization.strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        if token.count(".") != 2:
            return None
        try:
            key = self._keys.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=self.cognito.client_id,
                issuer=self.cognito.issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "token_use"]},
            )
        except jwt.PyJWTError:
            return None
        if claims.get("token_use") != "id":
            return None
        # As API Gateway passes them to the function: every claim a string, groups comma-separated.
        groups = claims.get("cognito:groups")
        if isinstance(groups, list):
            claims["cognito:groups"] = ",".join(str(g) for g in groups)
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in claims.items()}


def _b64url_sha256(text: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()


@dataclass
class _Grant:
    tokens: dict[str, Any]
    client_id: str
    redirect_uri: str
    challenge: str
    expires: float


@dataclass
class HostedUiStandIn:
    """``/oauth2/authorize`` (the sign-in form), ``/oauth2/token`` and ``/logout``, as Cognito's hosted UI
    answers them for the authorization code grant with PKCE."""

    cognito: LocalCognito
    _grants: dict[str, _Grant] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def routes(self) -> dict[str, Any]:
        return {"/oauth2/authorize": self.authorize, "/oauth2/token": self.token, "/logout": self.logout}

    # -- authorize --------------------------------------------------------------------------------------
    def _check_request(self, params: dict[str, str]) -> str | None:
        if params.get("response_type") != "code":
            return "response_type must be code"
        if params.get("client_id") != self.cognito.client_id:
            return "unknown client_id"
        if params.get("redirect_uri") not in self.cognito.callback_urls:
            return "redirect_uri is not a callback URL of the client"
        if params.get("code_challenge_method") != "S256" or len(params.get("code_challenge", "")) < 43:
            return "PKCE is required: code_challenge (S256)"
        return None

    def authorize(self, method: str, query: str, headers: dict[str, str], body: bytes) -> Page:
        params = {k: v[-1] for k, v in parse_qs(query).items()}
        if method == "POST":
            params |= {k: v[-1] for k, v in parse_qs(body.decode(errors="replace")).items()}
        problem = self._check_request(params)
        if problem:
            return _page(400, f"<p class=error>Invalid sign-in request: {html.escape(problem)}</p>")
        if method != "POST":
            return _page(200, _form(params, ""))
        try:
            tokens = self.cognito.password_tokens(params.get("username", ""), params.get("password", ""))
        except Exception:  # NotAuthorized, UserNotFound: the same answer for both
            return _page(401, _form(params, "Incorrect user name or password."))
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._grants[code] = _Grant(
                tokens,
                params["client_id"],
                params["redirect_uri"],
                params["code_challenge"],
                time.monotonic() + CODE_TTL_SECONDS,
            )
        target = params["redirect_uri"] + "?" + urlencode({"code": code, "state": params.get("state", "")})
        return 302, {"Location": target, "Cache-Control": "no-store"}, b""

    # -- token ------------------------------------------------------------------------------------------
    def token(self, method: str, query: str, headers: dict[str, str], body: bytes) -> Page:
        if method != "POST":
            return _json(405, {"error": "invalid_request"})
        params = {k: v[-1] for k, v in parse_qs(body.decode(errors="replace")).items()}
        if params.get("grant_type") != "authorization_code":
            return _json(400, {"error": "unsupported_grant_type"})
        with self._lock:
            grant = self._grants.pop(params.get("code", ""), None)  # a code is used once
        if (
            grant is None
            or grant.expires < time.monotonic()
            or grant.client_id != params.get("client_id")
            or grant.redirect_uri != params.get("redirect_uri")
            or not secrets.compare_digest(grant.challenge, _b64url_sha256(params.get("code_verifier", "")))
        ):
            return _json(400, {"error": "invalid_grant"})
        return _json(
            200,
            {
                "id_token": grant.tokens["IdToken"],
                "access_token": grant.tokens["AccessToken"],
                "refresh_token": grant.tokens.get("RefreshToken"),
                "expires_in": grant.tokens.get("ExpiresIn", 3600),
                "token_type": "Bearer",
            },
        )

    def logout(self, method: str, query: str, headers: dict[str, str], body: bytes) -> Page:
        params = {k: v[-1] for k, v in parse_qs(query).items()}
        target = params.get("logout_uri", "")
        if params.get("client_id") != self.cognito.client_id or target not in self.cognito.callback_urls:
            return _page(400, "<p class=error>Invalid sign-out request</p>")
        return 302, {"Location": target, "Cache-Control": "no-store"}, b""


def _json(status: int, body: dict[str, Any]) -> Page:
    headers = {"Content-Type": "application/json", "Cache-Control": "no-store"}
    return status, headers, json.dumps(body).encode()


_STYLE = (
    "body{font:16px system-ui,sans-serif;background:#f4f6fa;color:#1d2433;display:grid;place-items:center;"
    "min-height:90vh}form{background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002;"
    "display:grid;gap:.6rem;min-width:20rem}input,button{font:inherit;padding:.45rem}"
    "button{background:#2457c5;color:#fff;border:0;border-radius:4px}.error{color:#b00020}"
)


_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()


def _page(status: int, content: str) -> Page:
    page = (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Sign in</title>"
        f"<style>{_STYLE}</style></head><body>{content}</body></html>"
    )
    headers = {
        "Content-Type": "text/html; charset=utf-8",
        "Cache-Control": "no-store",
        # No script at all; the form posts to this page only.
        "Content-Security-Policy": f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        "X-Frame-Options": "DENY",
    }
    return status, headers, page.encode()


def _form(params: dict[str, str], error: str) -> str:
    hidden = "".join(
        f'<input type=hidden name="{name}" value="{html.escape(params.get(name, ""))}">'
        for name in ("response_type", "client_id", "redirect_uri", "state", "code_challenge")
    )
    hidden += '<input type=hidden name="code_challenge_method" value="S256">'
    message = f'<p class=error role=alert id="signin-error">{html.escape(error)}</p>' if error else ""
    host = urlsplit(params.get("redirect_uri", "")).netloc
    return (
        '<form method=post id="signin-form" autocomplete=on>'
        "<h1>Sign in</h1>"
        f"<p>to the relationship-marketing console at {html.escape(host)} (local Cognito stand-in)</p>"
        f"{message}{hidden}"
        "<label for=username>Email</label><input id=username name=username type=email required autofocus>"
        "<label for=password>Password</label><input id=password name=password type=password required>"
        '<button type=submit id="signin-submit">Sign in</button></form>'
    )
