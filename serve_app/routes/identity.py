"""Sign-in, sign-out, API keys, users, roles and tenants (the gateway's `/v1/auth`, `/v1/me`, `/v1/api-keys`,
`/v1/users`, `/v1/roles`, `/v1/tenants`).

Sign-in with `"session": true` (the web UI) also sets a refresh token as an HttpOnly, SameSite=Strict cookie
scoped to `/v1/auth`: `POST /v1/auth/refresh` trades it for a new access token and a new cookie, revoking the
old one, so that no script ever holds more than a short-lived access token."""

import contextlib
import datetime as dt
from typing import Annotated, Any, Literal, get_args

import asyncpg
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from serve_app.control import Control
from serve_app.errors import (
    BadRequestError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    UnauthorizedError,
)
from serve_app.policy import Principal, platform_roles
from serve_app.security.tokens import Claims, TokenError
from serve_app.store import LastAdminError, User

RoleName = Literal["admin", "developer", "viewer"]
_RANK = {"viewer": 0, "developer": 1, "admin": 2}
Email = Annotated[str, Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]
Scope = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^(\*|[a-z]+:[a-z_]+)$")]


# `agents:invoke` is decided per agent; /v1/me lists it when the role may invoke agents of some category.
_SOME_AGENT = {"agents:invoke": {"category": "(any)", "agent": "(any)"}}
REFRESH_COOKIE = "agents_refresh"
REFRESH_PATH = "/v1/auth"


class TokenRequest(BaseModel):
    email: Email
    password: str = Field(min_length=1, max_length=1024)
    session: bool = Field(
        default=False, description="also set the HttpOnly refresh cookie that /v1/auth/refresh takes"
    )


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    tenant: str
    role: str


class KeyRequest(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    role: RoleName | None = Field(
        default=None, description="at most the caller's role; default: the caller's"
    )
    scopes: list[Scope] = Field(
        default_factory=list, max_length=32, description="actions it may do; empty: all"
    )
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class KeyResponse(BaseModel):
    id: str
    name: str
    prefix: str
    role: str
    scopes: list[str]
    owner_id: str | None
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    created_at: dt.datetime


class NewKeyResponse(KeyResponse):
    key: str = Field(description="the secret: shown this once, stored only as a keyed hash")


class UserRequest(BaseModel):
    email: Email
    password: str = Field(min_length=12, max_length=1024)
    role: RoleName


class UserResponse(BaseModel):
    id: str
    tenant_id: str
    email: str
    role: str
    disabled: bool = False
    created_at: dt.datetime | None = None


class UserChange(BaseModel):
    role: RoleName | None = None
    disabled: bool | None = None


class RoleResponse(BaseModel):
    name: str
    actions: list[str]
    restricted_categories: list[str]
    denied_agents: list[str]


class MeResponse(BaseModel):
    subject: str
    kind: str
    tenant: str
    role: str
    email: str | None = Field(description="the user's, for a signed-in user")
    actions: list[str] = Field(description="what the policy lets this principal do (no resource given)")
    platform: bool = Field(description="may see every tenant's figures (analytics:platform)")


class TenantRequest(BaseModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    name: str = Field(min_length=1, max_length=200)


def _owner(principal: Principal) -> str | None:
    return principal.subject.removeprefix("user:") if principal.kind == "user" else None


def identity_router(control: Control) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["identity"])
    keys = Depends(control.requires("keys:manage"))

    @router.post(
        "/auth/token", response_model=TokenResponse, responses={401: {"description": "wrong credentials"}}
    )
    async def token(body: TokenRequest, request: Request, response: Response) -> TokenResponse:
        await control.ready()
        user = await control.store.authenticate(body.email, body.password)
        if user is None:
            raise UnauthorizedError("wrong e-mail or password")
        if body.session:
            _set_refresh(control, request, response, user)
        return _access(control, user)

    @router.post(
        "/auth/refresh",
        response_model=TokenResponse,
        responses={401: {"description": "no refresh cookie, or an invalid, expired or revoked one"}},
    )
    async def refresh(request: Request, response: Response) -> TokenResponse:
        """A new access token for the refresh cookie, which is replaced (the old one is revoked)."""
        await control.ready()
        claims = await _refresh_claims(control, request)
        user = await control.store.active_user(claims.subject)
        if user is None:
            raise UnauthorizedError("the user no longer exists or is disabled")
        await control.guard.revoke_token(claims)
        _set_refresh(control, request, response, user)
        return _access(control, user)

    @router.post("/auth/logout", status_code=204, responses={401: {"description": "no valid token"}})
    async def logout(request: Request) -> Response:
        """Revokes the bearer token, the refresh cookie, or both."""
        await control.ready()
        revoked = 0
        _, _, credential = request.headers.get("authorization", "").partition(" ")
        if credential.strip():
            await control.authenticate(request)
            try:
                await control.guard.revoke_token(control.guard.tokens.verify(credential.strip()))
            except TokenError as exc:
                raise UnauthorizedError(
                    "logout takes the token to revoke as 'Authorization: Bearer'"
                ) from exc
            revoked += 1
        if request.cookies.get(REFRESH_COOKIE):
            with contextlib.suppress(UnauthorizedError):  # an expired cookie is cleared all the same
                await control.guard.revoke_token(await _refresh_claims(control, request))
            revoked += 1
        if not revoked:
            raise UnauthorizedError("logout takes the token to revoke as 'Authorization: Bearer'")
        answer = Response(status_code=204)
        answer.delete_cookie(REFRESH_COOKIE, path=REFRESH_PATH, httponly=True, samesite="strict")
        return answer

    @router.get("/me", response_model=MeResponse)
    async def me(request: Request) -> MeResponse:
        """Who the credentials belong to and what they may do (the web UI shows only what they may)."""
        principal = await control.authenticate(request)
        actions = [a for a in platform_roles().actions if control.allows(principal, a, _SOME_AGENT.get(a))]
        owner = _owner(principal)
        user = await control.store.active_user(owner) if owner else None
        return MeResponse(
            subject=principal.subject,
            kind=principal.kind,
            tenant=principal.tenant_id,
            role=principal.role,
            email=user.email if user else None,
            actions=actions,
            platform="analytics:platform" in actions,
        )

    @router.post("/api-keys", response_model=NewKeyResponse, status_code=201)
    async def create_key(body: KeyRequest, principal: Annotated[Principal, keys]) -> NewKeyResponse:
        role: RoleName = body.role or _role(principal.role)
        if _RANK[role] > _RANK[principal.role]:
            raise ForbiddenError(f"a {principal.role} cannot create {role} keys", details={"field": "/role"})
        if principal.scopes and "*" not in principal.scopes and not set(body.scopes) <= principal.scopes:
            raise ForbiddenError("a key cannot grant scopes its creator lacks", details={"field": "/scopes"})
        expires = (
            dt.datetime.now(dt.UTC) + dt.timedelta(days=body.expires_in_days)
            if body.expires_in_days
            else None
        )
        key, secret = await control.store.create_api_key(
            principal.tenant_id,
            name=body.name,
            role=role,
            owner_id=_owner(principal),
            scopes=tuple(body.scopes) or tuple(principal.scopes),
            expires_at=expires,
        )
        return NewKeyResponse(**key.public(), key=secret)

    @router.get("/api-keys", response_model=list[KeyResponse])
    async def list_keys(principal: Annotated[Principal, keys]) -> list[dict[str, Any]]:
        reach, owner = _reach(control, principal)
        if not reach:
            return []
        return [k.public() for k in await control.store.list_api_keys(principal.tenant_id, owner)]

    @router.delete(
        "/api-keys/{key_id}", response_model=KeyResponse, responses={404: {"description": "no such key"}}
    )
    async def revoke_key(key_id: str, principal: Annotated[Principal, keys]) -> dict[str, Any]:
        reach, owner = _reach(control, principal)
        key = None if not reach else await control.store.revoke_api_key(principal.tenant_id, key_id, owner)
        if key is None:
            raise NotFoundError("no such API key", details={"id": key_id})
        await control.guard.mark_key_revoked(key)
        return key.public()

    users = Depends(control.requires("users:manage"))

    @router.get("/users", response_model=list[UserResponse])
    async def list_users(principal: Annotated[Principal, users]) -> list[dict[str, Any]]:
        return await control.store.list_users(principal.tenant_id)

    @router.post("/users", response_model=UserResponse, status_code=201)
    async def create_user(body: UserRequest, principal: Annotated[Principal, users]) -> UserResponse:
        try:
            user = await control.store.create_user(principal.tenant_id, body.email, body.password, body.role)
        except asyncpg.UniqueViolationError as exc:
            raise ConflictError("a user with this e-mail exists", details={"field": "/email"}) from exc
        return UserResponse(id=user.id, tenant_id=user.tenant_id, email=user.email, role=user.role)

    @router.patch(
        "/users/{user_id}",
        response_model=UserResponse,
        responses={
            404: {"description": "no such user"},
            409: {"description": "the tenant would be left without an active admin"},
        },
    )
    async def change_user(
        user_id: str, body: UserChange, principal: Annotated[Principal, users]
    ) -> dict[str, Any]:
        """A new role, or disabled (sign-in and refresh refused; tokens already issued run out)."""
        if body.role is None and body.disabled is None:
            raise BadRequestError("give role, disabled or both", details={"field": "/role"})
        try:
            user = await control.store.update_user(
                principal.tenant_id, user_id, role=body.role, disabled=body.disabled
            )
        except LastAdminError as exc:
            field = "/role" if body.role is not None else "/disabled"
            raise ConflictError(str(exc), details={"field": field}) from exc
        except asyncpg.DataError as exc:  # not a UUID
            raise NotFoundError("no such user", details={"id": user_id}) from exc
        if user is None:
            raise NotFoundError("no such user", details={"id": user_id})
        return user

    @router.get("/roles", response_model=list[RoleResponse])
    async def roles(_: Annotated[Principal, Depends(control.requires("agents:read"))]) -> list[RoleResponse]:
        """Every role, the actions it grants, and the agents it may read but not invoke."""
        spec = platform_roles()
        every = [a for a in spec.actions if a not in spec.platform_actions]
        return [
            RoleResponse(
                name=name,
                actions=every if "*" in role.actions else list(role.actions),
                restricted_categories=role.restricted_categories,
                denied_agents=role.denied_agents,
            )
            for name, role in spec.roles.items()
        ]

    @router.post("/tenants", status_code=201)
    async def create_tenant(
        body: TenantRequest, _: Annotated[Principal, Depends(control.requires("tenants:manage"))]
    ) -> dict[str, str]:
        if not await control.store.create_tenant(body.id, body.name):
            raise ConflictError("the tenant exists", details={"field": "/id"})
        return {"id": body.id, "name": body.name}

    return router


def _access(control: Control, user: User) -> TokenResponse:
    issued, _ = control.guard.tokens.issue(user.id, user.tenant_id, user.role)
    return TokenResponse(
        access_token=issued,
        expires_in=control.guard.tokens.ttl_seconds,
        tenant=user.tenant_id,
        role=user.role,
    )


def _set_refresh(control: Control, request: Request, response: Response, user: User) -> None:
    tokens = control.guard.tokens
    issued, _ = tokens.issue(user.id, user.tenant_id, user.role, typ="refresh")
    response.set_cookie(
        REFRESH_COOKIE,
        issued,
        max_age=tokens.refresh_ttl_seconds,
        path=REFRESH_PATH,
        httponly=True,
        samesite="strict",
        secure=control.settings.cookie_secure or request.url.scheme == "https",
    )


async def _refresh_claims(control: Control, request: Request) -> Claims:
    """The refresh cookie's claims, if it is valid and not revoked."""
    cookie = request.cookies.get(REFRESH_COOKIE)
    if not cookie or len(cookie) > 4096:
        raise UnauthorizedError("no session: sign in again")
    try:
        claims = control.guard.tokens.verify(cookie, typ="refresh")
    except TokenError as exc:
        raise UnauthorizedError(f"the session is over: {exc}") from exc
    if await control.guard.is_revoked(claims):
        raise UnauthorizedError("the session has been signed out")
    return claims


def _role(value: str) -> RoleName:
    for role in get_args(RoleName):
        if value == role:
            return role  # type: ignore[no-any-return]
    raise ForbiddenError(f"unknown role {value!r}")


def _reach(control: Control, principal: Principal) -> tuple[bool, str | None]:
    """Which keys the caller may see and revoke: (any at all, only this owner's; None: the whole tenant's).
    A key without an owner reaches no keys unless it may administer them."""
    if control.allows(principal, "keys:admin"):
        return True, None
    owner = _owner(principal)
    return owner is not None, owner
