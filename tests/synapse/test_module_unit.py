"""The MSC4094 module without a running Synapse: its resources, its routing
through Synapse's own resource-tree builder, and its module entry point.

Runs with the venv's python (it needs Twisted and Synapse's tree builder).
"""

from __future__ import annotations

import json
import sys
import unittest
from pathlib import Path

from twisted.web.resource import Resource, getChildForRequest
from twisted.web.test.requesthelper import DummyRequest

from synapse.util.httpresourcetree import create_resource_tree

# The source tree, not the copy installed into the venv: what is tested is what is edited.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "contrib" / "synapse-msc4094"))
import synapse_msc4094 as m  # noqa: E402


def render(resource: Resource, method: bytes = b"GET") -> tuple[int | None, DummyRequest, bytes]:
    req = DummyRequest([])
    req.method = method
    body = resource.render(req)
    return req.responseCode, req, body


def header(req: DummyRequest, name: bytes) -> bytes | None:
    values = req.responseHeaders.getRawHeaders(name)
    return values[-1] if values else None


class FakeClock:
    """A clock that moves on every read, to prove the value is read per request."""

    def __init__(self, start_ms: int):
        self.now_ms = start_ms
        self.reads = 0

    def __call__(self) -> int:
        self.reads += 1
        self.now_ms += 7
        return self.now_ms


class Leaf(Resource):
    """Stands in for Synapse's ClientRestResource: a leaf that names itself."""

    isLeaf = True

    def __init__(self, name: bytes):
        super().__init__()
        self.name = name

    def render(self, request):  # pragma: no cover - identity is what tests check
        return self.name


class ServerNowResourceTest(unittest.TestCase):
    def test_get_reads_the_clock_per_request(self):
        clock = FakeClock(1_795_500_000_000)
        res = m.ServerNowResource(clock)
        code, req, body = render(res)
        self.assertEqual(code, 200)
        self.assertEqual(json.loads(body), {"server_now": 1_795_500_000_007})
        code, req, body = render(res)
        self.assertEqual(json.loads(body), {"server_now": 1_795_500_000_014})
        self.assertEqual(clock.reads, 2)

    def test_headers(self):
        _, req, _ = render(m.ServerNowResource(lambda: 5))
        self.assertEqual(header(req, b"Content-Type"), b"application/json")
        self.assertEqual(header(req, b"Cache-Control"), b"no-store")
        self.assertEqual(header(req, b"Access-Control-Allow-Origin"), b"*")

    def test_value_is_an_integer_even_from_a_float_clock(self):
        _, _, body = render(m.ServerNowResource(lambda: 1234.9))
        self.assertEqual(body, b'{"server_now":1234}')

    def test_options_and_unknown_methods(self):
        res = m.ServerNowResource(lambda: 5)
        code, req, body = render(res, b"OPTIONS")
        self.assertEqual((code, body), (204, b""))
        self.assertIn(b"GET", header(req, b"Access-Control-Allow-Methods"))
        code, req, body = render(res, b"DELETE")
        self.assertEqual(code, 405)
        self.assertEqual(json.loads(body)["errcode"], "M_UNRECOGNIZED")
        self.assertEqual(header(req, b"Allow"), b"GET, HEAD, OPTIONS")


class RoutingTest(unittest.TestCase):
    """Build a listener's tree the way Synapse does, with the module's resource
    registered last (module resources are added after the named ones)."""

    def build(self, with_client: bool = True) -> tuple[Resource, Resource, Resource, Resource]:
        client, media = Leaf(b"client"), Leaf(b"media")
        endpoint = m.ServerNowResource(lambda: 42)
        tree: dict[str, Resource] = {}
        if with_client:
            tree["/_matrix/client"] = client
        tree["/_matrix/media/v3"] = media
        tree["/_matrix"] = m.MatrixPrefixResource(endpoint)
        root = create_resource_tree(tree, Resource())
        return root, client, media, endpoint

    def route(self, root: Resource, path: bytes) -> Resource:
        req = DummyRequest(path.split(b"/")[1:])
        return getChildForRequest(root, req)

    def test_endpoint_path_reaches_the_endpoint(self):
        root, _, _, endpoint = self.build()
        self.assertIs(self.route(root, b"/_matrix/client/v3/get_server_now"), endpoint)

    def test_everything_else_reaches_synapse(self):
        root, client, media, _ = self.build()
        for path in (
            b"/_matrix/client/versions",
            b"/_matrix/client/v3/sync",
            b"/_matrix/client/v3/get_server_now/",
            b"/_matrix/client/v3/get_server_now/x",
            b"/_matrix/client/r0/get_server_now",
            b"/_matrix/client",
        ):
            self.assertIs(self.route(root, path), client, path)
        self.assertIs(self.route(root, b"/_matrix/media/v3/config"), media)

    def test_unknown_prefix_is_json_404(self):
        root, *_ = self.build()
        res = self.route(root, b"/_matrix/nope/x")
        code, _, body = render(res)
        self.assertEqual(code, 404)
        self.assertEqual(json.loads(body), {"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"})

    def test_no_client_resource_no_endpoint(self):
        # A listener without the client API must not grow the endpoint.
        root, _, _, endpoint = self.build(with_client=False)
        res = self.route(root, b"/_matrix/client/v3/get_server_now")
        self.assertIsNot(res, endpoint)
        self.assertEqual(render(res)[0], 404)

    def test_registering_at_the_endpoint_path_is_unreachable(self):
        # Why the module mounts at /_matrix: under Synapse's leaf client
        # resource a deeper resource is attached but never reached. If this
        # starts failing, Synapse changed and the simple mount may work.
        client, endpoint = Leaf(b"client"), m.ServerNowResource(lambda: 42)
        root = create_resource_tree({"/_matrix/client": client, m.PATH: endpoint}, Resource())
        self.assertIs(self.route(root, b"/_matrix/client/v3/get_server_now"), client)


class ModuleEntryPointTest(unittest.TestCase):
    class FakeApi:
        def __init__(self):
            self.registered: list[tuple[str, Resource]] = []
            self.now_ms = 1_700_000_000_123

        def register_web_resource(self, path, resource):
            self.registered.append((path, resource))

        def get_current_time_msec(self):
            return self.now_ms

    def test_registers_one_resource_at_matrix_using_synapse_clock(self):
        api = self.FakeApi()
        m.ServerNowModule(m.ServerNowModule.parse_config({}), api)
        self.assertEqual([p for p, _ in api.registered], ["/_matrix"])
        prefix = api.registered[0][1]
        root = create_resource_tree({"/_matrix/client": Leaf(b"client"), "/_matrix": prefix}, Resource())
        res = getChildForRequest(root, DummyRequest([b"_matrix", b"client", b"v3", b"get_server_now"]))
        api.now_ms = 1_700_000_000_999
        self.assertEqual(json.loads(render(res)[2]), {"server_now": 1_700_000_000_999})

    def test_config_is_rejected(self):
        from synapse.module_api.errors import ConfigError

        self.assertEqual(m.ServerNowModule.parse_config(None), {})
        with self.assertRaises(ConfigError):
            m.ServerNowModule.parse_config({"path": "/x"})


if __name__ == "__main__":
    unittest.main()
