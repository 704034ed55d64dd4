"""The classroom's sign-in: NativeAuthenticator with the gaps a class of strangers would use closed.

- The teacher's account exists before the hub answers anyone: it is written at start-up
  from a bcrypt hash that `make classroom-teacher` stores in a root-only file. A sign-up
  under the teacher's name, before or after, is refused like any taken name.
- Only the names on the class list (CLASSROOM_CLASS_LIST) can sign up, and only they can
  be approved: a flood of made-up names costs the hub no password hashing.
- Failed sign-ins are limited per (client address, name) in a fixed window, so nobody can
  keep a name locked from another address by failing on purpose now and then.
- Approving, un-approving and discarding a sign-up are POST forms with the hub's XSRF
  token, not links: an image tag in a page the teacher opens changes nothing.
- Deleting a user at /hub/admin ends their processes and removes their system account and
  home, so a later sign-up under the same name starts empty.
"""

from __future__ import annotations

from pathlib import Path

from accounts import remove_account
from jupyterhub.scopes import needs_scope
from nativeauthenticator import NativeAuthenticator
from nativeauthenticator.handlers import LocalBase
from nativeauthenticator.handlers import LoginHandler as NativeLoginHandler
from nativeauthenticator.orm import UserInfo
from policy import SignInLimiter, read_class_list, read_teacher_hash
from tornado import web
from tornado.escape import url_escape
from tornado.httputil import url_concat
from traitlets import Integer, Unicode

TEMPLATES = Path(__file__).resolve().parent / "templates"


class ToggleAuthorizationHandler(LocalBase):
    """POST /hub/authorize/<name>: approve a listed student's sign-up, or withdraw it."""

    @needs_scope("admin:users")
    async def post(self, name: str) -> None:
        info = self.authenticator.get_user(name)
        if info is None:
            raise web.HTTPError(404, f"no sign-up under {name!r}")
        if not info.is_authorized and name not in self.authenticator.class_list:
            raise web.HTTPError(403, f"{name!r} is not on the class list")
        if name in self.authenticator.admin_users:
            raise web.HTTPError(403, "the teacher's own account stays approved")
        UserInfo.change_authorization(self.db, name)
        self.redirect(self.hub.base_url + "authorize#" + name)


class DiscardHandler(LocalBase):
    """POST /hub/discard/<name>: delete a sign-up that was not approved."""

    @needs_scope("admin:users")
    async def post(self, name: str) -> None:
        info = self.authenticator.get_user(name)
        if info is not None and not info.is_authorized:
            self.authenticator.delete_user(type("User", (), {"name": name}))
            if self.users.get(name) is not None:
                self.users.delete(name)
        self.redirect(self.hub.base_url + "authorize")


class LoginHandler(NativeLoginHandler):
    """/hub/login, able to show an error on the form itself.

    JupyterHub shows the error of a form POST (such as the sign-in limit's HTTP 429) on the
    login form, by calling ``_render(sync=True, ...)`` with the error page's fields;
    NativeAuthenticator 1.3.0's ``_render`` accepts neither, and the error page crashed.
    """

    def _render(self, login_error=None, username=None, sync=False, **_error_page):
        next_url = self.get_argument("next", default="")
        return self.render_template(
            "native-login.html",
            sync=sync,
            next=url_escape(next_url),
            username=username,
            login_error=login_error,
            custom_html=self.authenticator.custom_html,
            login_url=self.settings["login_url"],
            enable_signup=self.authenticator.enable_signup,
            two_factor_auth=self.authenticator.allow_2fa,
            authenticator_login_url=url_concat(
                self.authenticator.login_url(self.hub.base_url), {"next": next_url}
            ),
        )


class ClassroomAuthenticator(NativeAuthenticator):
    teacher_hash_file = Unicode(config=True, help="root-only file with the teacher's bcrypt hash")
    class_list_file = Unicode(config=True, help="the class list: one hub name per line")
    student_group = Unicode("rnn-students", config=True, help="the students' system group")
    failed_logins_allowed = Integer(5, config=True, help="failed sign-ins per address and name")
    failed_logins_window = Integer(600, config=True, help="seconds of that window")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if len(self.admin_users) != 1:
            raise ValueError(f"one teacher expected in admin_users, not {sorted(self.admin_users)}")
        self.class_list = read_class_list(Path(self.class_list_file))
        (self.teacher,) = self.admin_users
        if self.teacher in self.class_list:
            raise ValueError(f"the teacher {self.teacher!r} must not be on the class list")
        self.limiter = SignInLimiter(self.failed_logins_allowed, self.failed_logins_window)
        self._write_teacher(read_teacher_hash(Path(self.teacher_hash_file)))

    def _write_teacher(self, password_hash: bytes) -> None:
        """The teacher's account, approved, with the stored hash: before the hub listens."""
        info = UserInfo.find(self.db, self.teacher)
        if info is None:
            self.db.add(UserInfo(username=self.teacher, password=password_hash, is_authorized=True))
        else:
            info.password, info.is_authorized = password_hash, True
        self.db.commit()

    async def authenticate(self, handler, data):
        name = self.normalize_username(data.get("username", ""))
        address = handler.request.remote_ip or ""
        wait = self.limiter.wait_s(address, name)
        if wait:
            raise web.HTTPError(429, f"Too many failed sign-ins; try again in {wait:.0f} s.")
        result = await super().authenticate(handler, data)
        if result:
            self.limiter.succeeded(address, name)
        else:
            self.limiter.failed(address, name)
        return result

    def create_user(self, username, password, **kwargs):
        name = self.normalize_username(username)
        if name in self.admin_users or name not in self.class_list:
            return None
        return super().create_user(username, password, **kwargs)

    def get_handlers(self, app):
        replaced = {
            r"/login": LoginHandler,
            r"/authorize/([^/]*)": ToggleAuthorizationHandler,
            r"/discard/([^/]*)": DiscardHandler,
        }
        handlers = super().get_handlers(app)
        return [(route, replaced.get(route, handler)) for route, handler in handlers]

    def delete_user(self, user):
        super().delete_user(user)
        remove_account(user.name, self.student_group)
