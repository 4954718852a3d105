"""FakeHub driven by the real huggingface_hub client (raw httpx2 where the raw reply matters)."""

from __future__ import annotations

import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx2
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError
from huggingface_hub.utils import http_backoff, paginate, parse_ratelimit_headers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakehub import LEGACY_CREATED_AT, FakeHub

http = httpx2.Client()  # one pooled client for raw requests (a new client per call is slow)
QWEN = ["Qwen/Qwen3-8B", "Qwen/Qwen3-32B", "Qwen/Qwen2.5-7B-Instruct", "Qwen/QwQ-32B"]


@pytest.fixture
def hub():
    """A hub with 4 Qwen repos, 4 derivatives and 2 unrelated repos, 3 items per page."""
    with FakeHub(page_size=3) as hub:
        for i, repo in enumerate(QWEN):
            hub.add(
                repo,
                downloads_all_time=1000 * (i + 1),
                downloads=100 * (i + 1),
                likes=10 + i,
                tags=["transformers", "text-generation", "region:us"],
                pipeline_tag="text-generation",
                library_name="transformers",
            )
        hub.add_derivative(
            "me/qwen3-8b-ft",
            parent="Qwen/Qwen3-8B",
            relation="finetune",
            downloads=5,
            downloads_all_time=50,
            likes=1,
            pipeline_tag="text-generation",
        )
        hub.add_derivative(
            "me/qwen3-8b-ft-GGUF",
            parent="me/qwen3-8b-ft",
            relation="quantized",
            downloads=7,
            downloads_all_time=70,
            tags=["gguf"],
        )
        hub.add_derivative(
            "aisingapore/Qwen-SEA-LION-v4-32B-IT",
            parent="Qwen/Qwen3-32B",
            downloads=300,
            downloads_all_time=3000,
            likes=40,
        )
        hub.add_derivative("me/merge", parent=["Qwen/Qwen3-8B", "Qwen/QwQ-32B"], relation=None)
        hub.add(
            "google-bert/bert-base-uncased",
            downloads=72376843,
            downloads_all_time=None,
            likes=2065,
            created_at=LEGACY_CREATED_AT,
            pipeline_tag="fill-mask",
        )
        hub.add("other/tiny", downloads=0, downloads_all_time=0, likes=0)
        yield hub


def api(hub: FakeHub) -> HfApi:
    return HfApi(endpoint=hub.url, token=False)


def raw_pages(hub: FakeHub, params) -> list[list[dict]]:
    """Follow the Link headers by hand and return the pages."""
    pages, url = [], f"{hub.url}/api/models"
    response = http.get(url, params=params)
    while True:
        assert response.status_code == 200, response.text
        pages.append(response.json())
        if "next" not in response.links:
            return pages
        response = http.get(response.links["next"]["url"])


def ids(items) -> list[str]:
    return [getattr(item, "id", None) or item["id"] for item in items]


# ----------------------------------------------------------------------------- paging
def test_list_models_pages_through_every_item_once(hub):
    models = list(api(hub).list_models(expand=["downloadsAllTime"]))
    assert hub.request_count("/api/models") == 4  # 3 + 3 + 3 + 1 with page_size=3
    assert sorted(ids(models)) == sorted(ids(raw_pages(hub, {"limit": 100})[0]))
    assert len(models) == len(set(ids(models))) == 10


def test_paginate_with_own_limit_and_created_at_order(hub):
    items = list(
        paginate(f"{hub.url}/api/models", params={"limit": 4, "sort": "createdAt"}, headers={})
    )
    assert len(items) == 10 and len({i["_id"] for i in items}) == 10
    created = [i["createdAt"] for i in items]
    assert created == sorted(created, reverse=True)
    assert items[-1]["id"] == "google-bert/bert-base-uncased"  # legacy date is the oldest
    assert hub.request_count() == 3


def test_next_url_carries_every_param(hub):
    params = [
        ("filter", "text-generation"),
        ("filter", "region:us"),
        ("author", "qwen"),
        ("search", "Qwen"),
        ("sort", "likes"),
        ("limit", "1"),
        ("full", "True"),
        ("expand", "likes"),
        ("expand[]", "downloadsAllTime"),
    ]
    items = list(paginate(f"{hub.url}/api/models", params=params, headers={}))
    assert ids(items) == [
        "Qwen/QwQ-32B",
        "Qwen/Qwen2.5-7B-Instruct",
        "Qwen/Qwen3-32B",
        "Qwen/Qwen3-8B",
    ]
    first, *rest = hub.requests
    assert first.params == params
    for request in rest:
        assert [p for p in request.params if p[0] != "cursor"] == params
        assert [p[0] for p in request.params].count("cursor") == 1


def test_link_header_format_and_absent_on_last_page(hub):
    first = http.get(f"{hub.url}/api/models", params={"limit": 6})
    link = first.headers["link"]
    assert link.startswith(f"<{hub.url}/api/models?limit=6&cursor=")
    assert link.endswith('>; rel="next"')
    last = http.get(first.links["next"]["url"])
    assert len(last.json()) == 4 and "link" not in last.headers


def test_cursor_is_base64_json_of_sort_value_and_id(hub):
    first = http.get(f"{hub.url}/api/models", params={"limit": 2, "sort": "downloads"})
    cursor = httpx2.URL(first.links["next"]["url"]).params["cursor"]
    value, uid = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    assert [value, uid] == [first.json()[-1]["downloads"], first.json()[-1]["_id"]]


@pytest.mark.parametrize("cursor", ["!!!", "bm90IGpzb24", base64.b64encode(b'{"a": 1}').decode()])
def test_bad_cursor_is_400(hub, cursor):
    response = http.get(f"{hub.url}/api/models", params={"cursor": cursor})
    assert response.status_code == 400 and "error" in response.json()


def test_default_page_size_and_limit_cap():
    with FakeHub(max_page_size=5) as hub:
        for i in range(7):
            hub.add(f"org/m{i}")
        assert len(http.get(f"{hub.url}/api/models", params={"limit": 1000}).json()) == 5
        assert len(http.get(f"{hub.url}/api/models").json()) == 5  # default 1000, capped
    with FakeHub() as hub:
        assert hub.page_size == 1000


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    counts=st.lists(st.one_of(st.none(), st.integers(0, 5)), max_size=12),
    limit=st.integers(1, 5),
    sort=st.sampled_from([None, "downloads", "likes", "createdAt"]),
)
def test_any_paging_yields_each_item_once_in_order(counts, limit, sort):
    with FakeHub(page_size=limit) as hub:
        for i, count in enumerate(counts):
            hub.add(f"org/m{i}", downloads=count, likes=count)
        params = {"sort": sort} if sort else {}
        items = list(paginate(f"{hub.url}/api/models", params=params, headers={}))
        assert sorted(ids(items)) == sorted(f"org/m{i}" for i in range(len(counts)))
        if sort in ("downloads", "likes"):
            present = [i[sort] for i in items if sort in i]
            assert present == sorted(present, reverse=True)
            assert all(sort in i for i in items[: len(present)])  # missing values come last
        elif sort is None:
            assert [i["_id"] for i in items] == sorted(i["_id"] for i in items)


# ----------------------------------------------------------------------------- expand
@pytest.mark.parametrize("with_underscore_id", [True, False])
def test_expand_returns_only_listed_fields(with_underscore_id):
    with FakeHub(expand_includes_underscore_id=with_underscore_id) as hub:
        hub.add("Qwen/Qwen3-8B", downloads_all_time=1000, downloads=100, likes=5, tags=["x"])
        items = list(
            paginate(
                f"{hub.url}/api/models",
                params={"expand": ["downloadsAllTime", "likes"]},
                headers={},
            )
        )
        expected = {"id", "downloadsAllTime", "likes"} | ({"_id"} if with_underscore_id else set())
        assert set(items[0]) == expected
        [model] = api(hub).list_models(expand=["downloadsAllTime", "likes"])
        assert (model.downloads_all_time, model.likes, model.downloads, model.tags) == (
            1000,
            5,
            None,
            None,
        )


def test_expand_brackets_form_is_accepted(hub):
    [page] = raw_pages(
        hub, [("limit", "20"), ("expand[]", "downloadsAllTime"), ("expand[]", "tags")]
    )
    assert all(set(item) <= {"id", "_id", "downloadsAllTime", "tags"} for item in page)
    assert "downloadsAllTime" not in next(i for i in page if i["id"].startswith("google-bert"))


def test_default_fields_have_no_downloads_all_time(hub):
    [page] = raw_pages(hub, {"limit": 20})
    item = next(i for i in page if i["id"] == "Qwen/Qwen3-8B")
    assert "downloadsAllTime" not in item
    assert {
        "_id",
        "id",
        "modelId",
        "author",
        "downloads",
        "likes",
        "createdAt",
        "lastModified",
        "tags",
        "pipeline_tag",
        "library_name",
        "private",
        "sha",
    } <= set(item)
    assert item["author"] == "Qwen" and item["modelId"] == item["id"] and item["private"] is False


@pytest.mark.parametrize("value", ["bogus", "baseModels", "childrenModelCount", "usedStorage"])
def test_unknown_or_detail_only_expand_in_listing_is_400(hub, value):
    with pytest.raises(HfHubHTTPError) as info:
        list(api(hub).list_models(expand=["likes", value]))
    assert info.value.response.status_code == 400
    assert value in info.value.response.json()["error"]


# ----------------------------------------------------------------------------- search params
def test_filters_author_search_pipeline_tag(hub):
    client = api(hub)
    assert sorted(ids(client.list_models(filter="base_model:Qwen/Qwen3-8B"))) == [
        "me/merge",
        "me/qwen3-8b-ft",
    ]
    assert ids(client.list_models(filter=["base_model:quantized:me/qwen3-8b-ft", "gguf"])) == [
        "me/qwen3-8b-ft-GGUF"
    ]
    assert ids(client.list_models(filter=["base_model:Qwen/Qwen3-8B", "gguf"])) == []
    assert len(ids(client.list_models(author="qwen"))) == 4  # case-insensitive, exact
    assert ids(client.list_models(author="Qwe")) == []
    assert sorted(ids(client.list_models(search="qwen3-8b"))) == [
        "Qwen/Qwen3-8B",
        "me/qwen3-8b-ft",
        "me/qwen3-8b-ft-GGUF",
    ]
    assert ids(client.list_models(pipeline_tag="fill-mask")) == ["google-bert/bert-base-uncased"]


@pytest.mark.parametrize(
    "sort, field",
    [
        ("downloads", "downloads"),
        ("likes", "likes"),
        ("created_at", "createdAt"),
        ("last_modified", "lastModified"),
    ],
)
def test_sort_is_descending(hub, sort, field):
    items = list(paginate(f"{hub.url}/api/models", params={"limit": 20}, headers={}))
    expected = sorted(items, key=lambda i: (-_as_number(i[field]), i["_id"]))
    assert ids(api(hub).list_models(sort=sort)) == ids(expected)


def _as_number(value):
    return (
        value
        if isinstance(value, int)
        else time.mktime(time.strptime(value[:19], "%Y-%m-%dT%H:%M:%S"))
    )


def test_unknown_sort_is_400_and_no_sort_orders_by_underscore_id(hub):
    with pytest.raises(HfHubHTTPError) as info:
        list(api(hub).list_models(sort="id"))
    assert info.value.response.status_code == 400
    items = list(paginate(f"{hub.url}/api/models", params={}, headers={}))
    assert [i["_id"] for i in items] == sorted(i["_id"] for i in items)


def test_ids_are_deterministic_24_hex(hub):
    first = hub.get("Qwen/Qwen3-8B")["_id"]
    assert len(first) == 24 and int(first, 16)
    with FakeHub() as other:
        assert other.add("a/b")["_id"] == first
        assert other.add("a/c", _id="0" * 24)["_id"] == "0" * 24


def test_garbage_fields_are_served_verbatim_and_sorting_survives():
    with FakeHub(page_size=2) as hub:
        hub.add("a/strings", downloads="12", likes="many", created_at="yesterday")
        hub.add("a/negative", downloads=-5, likes=-1)
        hub.add("a/missing", downloads=None, likes=None, downloads_all_time=None)
        hub.add("a/ok", downloads=7, downloadsAllTime="1,000")
        hub.add("a/float", downloads=3.5, extra_field={"x": 1})
        items = list(
            paginate(
                f"{hub.url}/api/models",
                params={"sort": "downloads", "expand": ["downloads", "downloadsAllTime"]},
                headers={},
            )
        )
        assert ids(items)[:3] == ["a/ok", "a/float", "a/negative"]
        assert sorted(ids(items)[3:]) == ["a/missing", "a/strings"]
        by_id = {i["id"]: i for i in items}
        assert by_id["a/strings"]["downloads"] == "12" and "downloads" not in by_id["a/missing"]
        assert by_id["a/ok"]["downloadsAllTime"] == "1,000"
        assert list(paginate(f"{hub.url}/api/models", params={"sort": "createdAt"}, headers={}))


# ----------------------------------------------------------------------------- data faults
def test_counters_changing_mid_listing_skip_and_repeat_items():
    with FakeHub(page_size=2) as hub:
        for i, downloads in enumerate([60, 50, 40, 30, 20, 10]):
            hub.add(f"org/m{i}", downloads=downloads)

        def shuffle(page):
            if page == 1:  # after m0, m1: m4 jumps above the cursor, m1 falls below it
                hub.set("org/m4", downloads=100)
                hub.set("org/m1", downloads=15)

        hub.on_page(shuffle)
        seen = ids(paginate(f"{hub.url}/api/models", params={"sort": "downloads"}, headers={}))
        assert "org/m4" not in seen and seen.count("org/m1") == 2
        hub.on_page(None)
        seen = ids(paginate(f"{hub.url}/api/models", params={"sort": "createdAt"}, headers={}))
        assert sorted(seen) == [f"org/m{i}" for i in range(6)]
        assert hub.pages_served == 6 and hub.errors == []


def test_item_added_mid_listing_is_missed_by_created_at_scan():
    with FakeHub(page_size=2) as hub:
        for i in range(4):
            hub.add(f"org/m{i}")
        hub.on_page(lambda page: page == 1 and hub.add("org/new"))
        seen = ids(api(hub).list_models(sort="created_at"))
        assert seen == ["org/m3", "org/m2", "org/m1", "org/m0"]
        assert ids(api(hub).list_models(sort="created_at"))[0] == "org/new"


def test_repeat_across_pages(hub):
    hub.repeat_across_pages = True
    seen = ids(api(hub).list_models())
    assert len(seen) == 10 + 3 and len(set(seen)) == 10
    requests = hub.requests
    assert len(requests) == 4


# ----------------------------------------------------------------------------- detail
def test_model_info_and_detail_only_expand(hub):
    client = api(hub)
    info = client.model_info("Qwen/Qwen3-8B")
    assert (info.downloads, info.likes, info.downloads_all_time) == (100, 10, None)
    info = client.model_info(
        "Qwen/Qwen3-8B",
        expand=["downloadsAllTime", "childrenModelCount", "usedStorage", "baseModels"],
    )
    assert (info.downloads_all_time, info.children_model_count, info.used_storage) == (1000, 2, 0)
    assert info.base_models is None and info.downloads is None
    gguf = client.model_info("me/qwen3-8b-ft-GGUF", expand=["baseModels"])
    assert gguf.base_models == {
        "relation": "quantized",
        "models": [{"id": "me/qwen3-8b-ft", "_id": hub.get("me/qwen3-8b-ft")["_id"]}],
    }
    merge = client.model_info("me/merge", expand=["baseModels"]).base_models
    assert merge["relation"] == "merge" and ids(merge["models"]) == [
        "Qwen/Qwen3-8B",
        "Qwen/QwQ-32B",
    ]
    with pytest.raises(HfHubHTTPError) as bad:
        client.model_info("Qwen/Qwen3-8B", expand=["nonsense"])
    assert bad.value.response.status_code == 400


def test_rename_keeps_underscore_id_and_redirects(hub):
    before = hub.get("me/qwen3-8b-ft")
    hub.rename("me/qwen3-8b-ft", "me/qwen3-8b-ft-v2")
    raw = http.get(f"{hub.url}/api/models/me/qwen3-8b-ft", params={"expand": "likes"})
    assert raw.status_code == 307
    assert raw.headers["location"] == f"{hub.url}/api/models/me/qwen3-8b-ft-v2?expand=likes"
    info = api(hub).model_info("me/qwen3-8b-ft")  # the client follows the redirect
    assert (info.id, info._id) == ("me/qwen3-8b-ft-v2", before["_id"])
    listed = ids(api(hub).list_models(search="qwen3-8b-ft"))
    assert "me/qwen3-8b-ft" not in listed and "me/qwen3-8b-ft-v2" in listed
    hub.rename("me/qwen3-8b-ft-v2", "me/v3")  # old ids follow along
    assert api(hub).model_info("me/qwen3-8b-ft").id == "me/v3"


def test_unknown_deleted_and_other_paths_are_404(hub):
    client = api(hub)
    with pytest.raises(RepositoryNotFoundError):
        client.model_info("nobody/nothing")
    hub.delete("other/tiny")
    with pytest.raises(RepositoryNotFoundError):
        client.model_info("other/tiny")
    assert "other/tiny" not in ids(client.list_models())
    for path in ["/api/whoami-v2", "/api/models/", "/api/models/a/b/c", "/", "/api/datasets"]:
        response = http.get(hub.url + path)
        assert response.status_code == 404 and "error" in response.json(), path
    response = http.get(f"{hub.url}/api/models/nobody/nothing")
    assert response.json() == {"error": "Repository not found"}


def test_set_and_set_tags_change_what_listings_show(hub):
    assert ids(api(hub).list_models(filter="base_model:Qwen/QwQ-32B")) == ["me/merge"]
    hub.set_tags("other/tiny", ["base_model:Qwen/QwQ-32B", "base_model:adapter:Qwen/QwQ-32B"])
    hub.set_tags("me/merge", [])
    assert ids(api(hub).list_models(filter="base_model:Qwen/QwQ-32B")) == ["other/tiny"]
    hub.set("Qwen/Qwen3-8B", downloads_all_time=1200, likes=6)
    info = api(hub).model_info("Qwen/Qwen3-8B", expand=["downloadsAllTime", "likes"])
    assert (info.downloads_all_time, info.likes) == (1200, 6)
    hub.set("Qwen/Qwen3-8B", downloads_all_time=None)
    info = api(hub).model_info("Qwen/Qwen3-8B", expand=["downloadsAllTime"])
    assert info.downloads_all_time is None


# ----------------------------------------------------------------------------- rate limits
class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_ratelimit_headers_parse_and_window_resets():
    clock = FakeClock()
    with FakeHub(quota=3, window=300, clock=clock) as hub:
        hub.add("a/b")
        infos = []
        for _ in range(3):
            infos.append(parse_ratelimit_headers(http.get(f"{hub.url}/api/models").headers))
            clock.now += 10
        assert [(i.remaining, i.reset_in_seconds) for i in infos] == [(2, 300), (1, 290), (0, 280)]
        assert (infos[0].resource_type, infos[0].limit, infos[0].window_seconds) == ("api", 3, 300)
        with pytest.raises(HfHubHTTPError) as info:
            http_backoff("GET", f"{hub.url}/api/models/a/b", max_retries=0)
        response = info.value.response
        assert response.status_code == 429 and "error" in response.json()
        assert parse_ratelimit_headers(response.headers).remaining == 0
        assert "retry-after" not in response.headers
        clock.now += 270  # the window opened at 1000 and ends at 1300
        assert http.get(f"{hub.url}/api/models").headers["ratelimit"] == '"api";r=2;t=300'


@pytest.mark.parametrize("mode", ["headers", "retry_after", "bare"])
def test_rate_limit_modes(mode):
    clock = FakeClock()
    with FakeHub(quota=1, window=60, clock=clock, rate_limit_mode=mode) as hub:
        assert http.get(f"{hub.url}/api/models").status_code == 200
        clock.now += 0.5
        response = http.get(f"{hub.url}/api/models")
        assert response.status_code == 429
        if mode == "bare":
            assert parse_ratelimit_headers(response.headers) is None
            assert "ratelimit-policy" not in response.headers
        else:
            assert response.headers["ratelimit"] == '"api";r=0;t=60'
            assert ("retry-after" in response.headers) == (mode == "retry_after")
        if mode == "retry_after":
            assert response.headers["retry-after"] == "60"


def test_no_quota_means_no_ratelimit_headers(hub):
    assert "ratelimit" not in http.get(f"{hub.url}/api/models").headers


# ----------------------------------------------------------------------------- injected faults
@pytest.mark.parametrize("kind", ["429", "429_retry_after", "429_bare", "500", "502", "503"])
def test_injected_status_faults(kind):
    with FakeHub(retry_after_seconds=7) as hub:
        hub.add("a/b")
        hub.inject(kind)
        with pytest.raises(HfHubHTTPError) as info:
            http_backoff("GET", f"{hub.url}/api/models", max_retries=0)
        response = info.value.response
        assert response.status_code == int(kind[:3]) and "error" in response.json()
        rate = parse_ratelimit_headers(response.headers)
        if kind in ("429", "429_retry_after"):
            assert (rate.remaining, rate.reset_in_seconds) == (0, 7)
        else:
            assert rate is None
        assert response.headers.get("retry-after") == ("7" if kind == "429_retry_after" else None)
        assert http_backoff("GET", f"{hub.url}/api/models", max_retries=0).status_code == 200


def test_injected_fault_counts_after_and_times_per_path_prefix(hub):
    hub.inject("503", times=2, after=1, path_prefix="/api/models/")
    statuses = [
        http.get(hub.url + p).status_code
        for p in [
            "/api/models",
            "/api/models/a/b",
            "/api/models/Qwen/QwQ-32B",
            "/api/models",
            "/api/models/Qwen/QwQ-32B",
            "/api/models/Qwen/QwQ-32B",
        ]
    ]
    assert statuses == [200, 404, 503, 200, 503, 200]
    assert [r.status for r in hub.requests] == statuses


def test_http_backoff_recovers_from_5xx_and_resets(hub):
    hub.inject("500")
    hub.inject("reset", after=1)
    response = http_backoff("GET", f"{hub.url}/api/models", max_retries=2, base_wait_time=0.01)
    assert response.status_code == 200
    assert [r.status for r in hub.requests] == [500, None, 200]


def test_reset_is_a_network_error(hub):
    hub.inject("reset")
    with pytest.raises(httpx2.TransportError):
        http_backoff("GET", f"{hub.url}/api/models", max_retries=0)
    assert hub.requests[-1].status is None
    assert http.get(f"{hub.url}/api/models").status_code == 200


def test_slow_answers_late_or_times_out(hub):
    hub.slow_seconds = 0.3
    hub.inject("slow", times=2)
    start = time.monotonic()
    assert http.get(f"{hub.url}/api/models").status_code == 200
    assert time.monotonic() - start >= 0.3
    with pytest.raises(httpx2.TimeoutException):
        http.get(f"{hub.url}/api/models", timeout=0.05)


def test_truncated_body_keeps_headers_and_breaks_json(hub):
    full = http.get(f"{hub.url}/api/models")
    hub.inject("truncated")
    cut = http_backoff("GET", f"{hub.url}/api/models", max_retries=0)
    assert cut.status_code == 200 and "link" in cut.headers
    assert int(cut.headers["content-length"]) == len(cut.content) == len(full.content) // 2
    with pytest.raises(ValueError):
        cut.json()
    hub.inject("truncated", after=1)  # the second page of a listing
    with pytest.raises(ValueError):
        list(api(hub).list_models())


def test_invalid_json_is_a_200(hub):
    hub.inject("invalid_json")
    response = http.get(f"{hub.url}/api/models")
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()


def test_faults_and_page_counts_are_thread_safe(hub):
    hub.inject("500", times=5)
    with ThreadPoolExecutor(8) as pool:
        statuses = list(
            pool.map(lambda _: http.get(f"{hub.url}/api/models").status_code, range(40))
        )
    assert sorted(statuses) == [200] * 35 + [500] * 5
    assert hub.pages_served == 35 and hub.request_count("/api/models") == 40


# ----------------------------------------------------------------------------- housekeeping
def test_lifecycle_logging_and_byte_count(capfd):
    hub = FakeHub()
    with pytest.raises(RuntimeError):
        _ = hub.url
    hub.start()
    try:
        hub.add("a/b")
        hub.inject("reset")
        with pytest.raises(httpx2.TransportError):
            http.get(f"{hub.url}/api/models")
        sizes = [len(http.get(hub.url + p).content) for p in ["/api/models", "/nope"]]
        assert hub.bytes_sent == sum(sizes)
        assert hub.request_count() == 3 and hub.request_count("/api/models") == 2
    finally:
        hub.stop()
        hub.stop()
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert hub.errors == []


def test_add_validates_ids(hub):
    with pytest.raises(ValueError):
        hub.add("no-slash")
    with pytest.raises(ValueError):
        hub.add("Qwen/Qwen3-8B")
    with pytest.raises(ValueError):
        hub.inject("teapot")
