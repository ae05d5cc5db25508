"""Serve MSC4094 ``GET /_matrix/client/v3/get_server_now`` from Synapse.

Enable it in ``homeserver.yaml``::

    modules:
      - module: synapse_msc4094.ServerNowModule

The reply is ``{"server_now": <ms>}``: the homeserver's Unix time in whole
milliseconds, read when the request is handled, from the same clock Synapse
stamps ``origin_server_ts`` with.

Why the module mounts itself at ``/_matrix`` and not at the endpoint's path:
Synapse serves the whole client API from one *leaf* resource at
``/_matrix/client``, and Twisted never looks at the children of a leaf, so a
resource registered at ``/_matrix/client/v3/get_server_now`` is attached but
never reached (checked on Synapse 1.163: the request gets Synapse's own 404
``M_UNRECOGNIZED``). Synapse builds each listener's tree by replacing the
placeholder at a registered path and handing it the placeholder's children,
so a resource registered at ``/_matrix`` takes over ``client``, ``media``,
``federation`` etc. unchanged. It answers exactly one path itself and hands
every other request to the child Synapse put there.
"""

import json
from typing import Any
from collections.abc import Callable

from twisted.web.resource import Resource

__all__ = ["ServerNowModule", "ServerNowResource", "MatrixPrefixResource", "PATH"]

__version__ = "0.1.0"

PATH = "/_matrix/client/v3/get_server_now"
_MOUNT = "/_matrix"
# The path below the mount, as Twisted splits it.
_SEGMENTS = [b"client", b"v3", b"get_server_now"]

_CORS = [
    # Web clients call the homeserver cross-origin, like the rest of the
    # client-server API (the same headers Synapse sends on its own paths).
    (b"Access-Control-Allow-Origin", b"*"),
    (b"Access-Control-Allow-Methods", b"GET, HEAD, OPTIONS"),
    (b"Access-Control-Allow-Headers", b"X-Requested-With, Content-Type, Authorization, Date"),
]


def _json(request: Any, code: int, body: dict) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"Content-Type", b"application/json")
    # A cached copy of "now" is wrong by its age: forbid every cache.
    request.setHeader(b"Cache-Control", b"no-store")
    for k, v in _CORS:
        request.setHeader(k, v)
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


class ServerNowResource(Resource):
    """The endpoint itself: a leaf that answers GET (and HEAD) with the time.

    No access token is required, on purpose: the reply tells nothing but the
    time, which every response already discloses in its ``Date`` header, and
    clients need it before they log in (to judge expiries, or to stamp
    events). Requiring auth would only hide the clock when it matters.
    """

    isLeaf = True

    def __init__(self, now_ms: Callable[[], int]):
        super().__init__()
        self._now_ms = now_ms

    def render_GET(self, request: Any) -> bytes:
        # Read the clock here, as late as possible: the value must describe
        # the moment the reply is built.
        return _json(request, 200, {"server_now": int(self._now_ms())})

    def render_OPTIONS(self, request: Any) -> bytes:
        _json(request, 204, {})
        return b""

    def render(self, request: Any) -> bytes:
        method = request.method
        if method in (b"GET", b"HEAD"):
            # Twisted drops the body of a HEAD reply itself.
            return self.render_GET(request)
        if method == b"OPTIONS":
            return self.render_OPTIONS(request)
        request.setHeader(b"Allow", b"GET, HEAD, OPTIONS")
        return _json(request, 405, {"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"})


class _NotFound(Resource):
    """Synapse's JSON 404 for unknown paths below /_matrix, kept as it was."""

    isLeaf = True

    def render(self, request: Any) -> bytes:
        return _json(request, 404, {"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"})


class MatrixPrefixResource(Resource):
    """Stands at ``/_matrix``: routes the one MSC4094 path to ``endpoint`` and
    everything else to the children Synapse attached (``client``, ...)."""

    def __init__(self, endpoint: Resource):
        super().__init__()
        self._endpoint = endpoint
        self._not_found = _NotFound()

    def getChildWithDefault(self, path: bytes, request: Any) -> Any:
        # Only where this listener serves the client API at all.
        if path == _SEGMENTS[0] and path in self.children and request.postpath == _SEGMENTS[1:]:
            # Consume the rest of the path so the leaf sees a complete match.
            request.prepath.extend(request.postpath)
            del request.postpath[:]
            return self._endpoint
        child = self.children.get(path)
        return child if child is not None else self._not_found

    def render(self, request: Any) -> bytes:
        # GET /_matrix itself: what Synapse's placeholder answered.
        return self._not_found.render(request)


class ServerNowModule:
    """Synapse module entry point (see the package docs for the config)."""

    def __init__(self, config: Any, api: Any):
        # get_current_time_msec() is the clock Synapse stamps events with, so
        # server_now and origin_server_ts are on the same clock.
        endpoint = ServerNowResource(api.get_current_time_msec)
        api.register_web_resource(_MOUNT, MatrixPrefixResource(endpoint))

    @staticmethod
    def parse_config(config: Any) -> dict:
        # Nothing to configure; say so rather than ignore a typo silently.
        if config:
            from synapse.module_api.errors import ConfigError

            raise ConfigError("synapse_msc4094.ServerNowModule takes no config")
        return {}
