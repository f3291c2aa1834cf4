"""Sign-in, sign-out, API keys, users and tenants (the gateway's `/v1/auth`, `/v1/api-keys`, `/v1/users`,
`/v1/tenants`)."""

import datetime as dt
from typing import Annotated, Any, Literal, get_args

import asyncpg
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from serve_app.control import Control
from serve_app.errors import ConflictError, ForbiddenError, NotFoundError, UnauthorizedError
from serve_app.policy import Principal
from serve_app.security.tokens import TokenError

RoleName = Literal["admin", "developer", "viewer"]
_RANK = {"viewer": 0, "developer": 1, "admin": 2}
Email = Annotated[str, Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]
Scope = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^(\*|[a-z]+:[a-z_]+)$")]


class TokenRequest(BaseModel):
    email: Email
    password: str = Field(min_length=1, max_length=1024)


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
    async def token(body: TokenRequest) -> TokenResponse:
        await control.ready()
        user = await control.store.authenticate(body.email, body.password)
        if user is None:
            raise UnauthorizedError("wrong e-mail or password")
        issued, _ = control.guard.tokens.issue(user.id, user.tenant_id, user.role)
        return TokenResponse(
            access_token=issued,
            expires_in=control.guard.tokens.ttl_seconds,
            tenant=user.tenant_id,
            role=user.role,
        )

    @router.post("/auth/logout", status_code=204, responses={401: {"description": "no valid token"}})
    async def logout(request: Request) -> Response:
        await control.authenticate(request)
        _, _, credential = request.headers.get("authorization", "").partition(" ")
        try:
            claims = control.guard.tokens.verify(credential.strip())
        except TokenError as exc:
            raise UnauthorizedError("logout takes the token to revoke as 'Authorization: Bearer'") from exc
        await control.guard.revoke_token(claims)
        return Response(status_code=204)

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

    @router.post("/users", response_model=UserResponse, status_code=201)
    async def create_user(
        body: UserRequest, principal: Annotated[Principal, Depends(control.requires("users:manage"))]
    ) -> UserResponse:
        try:
            user = await control.store.create_user(principal.tenant_id, body.email, body.password, body.role)
        except asyncpg.UniqueViolationError as exc:
            raise ConflictError("a user with this e-mail exists", details={"field": "/email"}) from exc
        return UserResponse(id=user.id, tenant_id=user.tenant_id, email=user.email, role=user.role)

    @router.post("/tenants", status_code=201)
    async def create_tenant(
        body: TenantRequest, _: Annotated[Principal, Depends(control.requires("tenants:manage"))]
    ) -> dict[str, str]:
        if not await control.store.create_tenant(body.id, body.name):
            raise ConflictError("the tenant exists", details={"field": "/id"})
        return {"id": body.id, "name": body.name}

    return router


def _role(value: str) -> RoleName:
    for role in get_args(RoleName):
        if value == role:
            return role  # type: ignore[no-any-return]
    raise ForbiddenError(f"unknown role {value!r}")


def _reach(control: Control, principal: Principal) -> tuple[bool, str | None]:
    """Which keys the caller may see and revoke: (any at all, only this owner's; None: the whole tenant's).
    A key without an owner reaches no keys unless it may administer them."""
    if not control.settings.auth or control.guard.policy.decide(principal, "keys:admin").allow:
        return True, None
    owner = _owner(principal)
    return owner is not None, owner
